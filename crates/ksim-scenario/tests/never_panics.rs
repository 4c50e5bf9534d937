//! Malformed input is reported, never a panic.

use proptest::prelude::*;

const VALID: &str = include_str!("../../../scenarios/quickstart.toml");
const VALID_CONTROL_PLANE: &str = include_str!("../../../scenarios/control-plane-small.toml");

#[test]
fn malformed_strings_are_rejected_without_panicking() {
    let inputs = [
        "",
        "\u{0}",
        "[",
        "[[",
        "= 1",
        "simulation = 1",
        "[simulation]\nname = 1\nduration = []",
        "[simulation]\nname = \"x\"\nduration = { a = 1 }\n[[node_pools]]\n",
        "node_pools = 3\nworkloads = \"x\"",
        "node_pools = [1, \"a\", [], {}]",
        "workloads = [{ kind = \"job\", arrival = [], duration = { dist = 5 }, pod = [] }]",
        "workloads = [{ kind = \"job\", arrival = { process = \"schedule\", times = [1, \"x\", {}] } }]",
        "workloads = [{ kind = \"job\", duration = { dist = \"empirical\", values = [], weights = [\"a\"] } }]",
        "workloads = [{ pod = { node_affinity = [1, [], [[]], [[1]], [{}]] } }]",
        "workloads = [{ pod = { tolerations = 1, anti_affinity = [1, {}], extended = [] } }]",
        "[scheduler]\nmode = 1\nbackoff_initial = \"1e400s\"",
        "[simulation]\nduration = \"99999999999999999999999h\"\nseed = -1",
        "[[node_pools]]\ncpu = \"1e99999999999999\"\nmemory = \"99999999999999999999999999999999999999999999Ei\"",
        "[[node_pools]]\ncpu = 1e308\nmemory = -0.0\ncount = 9223372036854775807",
        "[[node_pools]]\ncpu = nan\nmemory = inf",
        "a.b.c.d.e.f.g.h = 1",
        "control_plane = 1",
        "[control_plane]\nstores = 1\nrouting = []\napiserver = \"x\"\nobjects = [1]",
        "[control_plane]\nstores = [1, {}, { name = 1 }, { name = \"a\", members = -1, quorum = 1e300 }]",
        "[control_plane]\nrouting = { pods = 1, x = {}, leases = \"nowhere\" }\nstores = []",
        "[control_plane]\nobjects = { pod = \"99999999999Ei\", node = -1, lease = 1.5 }",
        "[[control_plane.stores]]\nname = \"s\"\nwal_fsync = { dist = \"empirical\", values = [] }\nnetwork_rtt = { dist = 1 }",
        "[control_plane.apiserver]\nnetwork_bytes_per_s = inf\nwatch_send_events_per_s = -inf\nreplicas = 99999999999",
        &"[".repeat(10_000),
        &format!("x = {}1{}", "[".repeat(5_000), "]".repeat(5_000)),
        &format!("x = {}", "{a = ".repeat(5_000)),
    ];
    for input in inputs {
        assert!(
            ksim_scenario::parse(input, "bad.toml").is_err(),
            "{input:?}"
        );
        assert_located(input);
    }
}

/// Every problem with `text` names a line: a reader that gives up without
/// recording why would leave only an unlocated "could not be built".
fn assert_located(text: &str) {
    if let Err(e) = ksim_scenario::parse(text, "bad.toml") {
        for problem in &e.problems {
            assert!(problem.line.is_some(), "{problem} in\n{text}");
        }
    }
}

/// `valid` with each (offset, text) edit overwriting bytes at that offset.
fn corrupt(valid: &str, edits: Vec<(usize, String)>) -> String {
    let mut text = valid.to_string();
    for (at, insert) in edits {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let end = (at + insert.len()).min(text.len());
        let end = (end..=text.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(text.len());
        text.replace_range(at..end, &insert);
    }
    text
}

proptest! {
    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = ksim_scenario::parse(&text, "random.toml");
    }

    #[test]
    fn random_toml_shaped_text_never_panics(
        text in "(\\[\\[?[a-z_.]{1,12}\\]\\]?\n|[a-z_]{1,10} = (\"[0-9a-zA-Z.]{0,6}\"|-?[0-9]{1,3}|\\[\\]|\\{\\}|true)\n){0,12}"
    ) {
        assert_located(&text);
    }

    /// Corrupting a valid scenario reaches the deep validation code.
    #[test]
    fn corrupted_scenarios_never_panic(
        edits in proptest::collection::vec((0usize..VALID.len(), "[ -~\n]{0,3}"), 1..4)
    ) {
        assert_located(&corrupt(VALID, edits));
    }

    /// The same for the control plane section.
    #[test]
    fn corrupted_control_plane_scenarios_never_panic(
        edits in proptest::collection::vec((0usize..VALID_CONTROL_PLANE.len(), "[ -~\n]{0,3}"), 1..4)
    ) {
        assert_located(&corrupt(VALID_CONTROL_PLANE, edits));
    }
}
