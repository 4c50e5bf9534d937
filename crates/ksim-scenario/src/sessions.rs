//! `kind = "session"` workloads: users arrive by `[workloads.load]` (users
//! per second), each waits for a dedicated pod of `[workloads.pod]` and uses
//! it for a session of `[workloads.session]`'s `length`, leaving after
//! `patience` if their pod has not started. Model: `docs/models/sessions.md`.

use ksim_core::config::{SessionSpec, WorkloadKind};
use ksim_core::time::SimTime;

use crate::distributions::{distribution, Unit};
use crate::load;
use crate::reader::{self, Ctx, Fields};

const SESSION_KEYS: &[&str] = &["length", "patience"];

/// The session workload `name` of `fields`, whose arrivals start at `start`
/// and stop at `stop` (read with the other kinds' keys; None when invalid).
pub(crate) fn read(
    ctx: &mut Ctx,
    fields: &Fields,
    name: &str,
    (start, stop): (SimTime, Option<Option<SimTime>>),
    end: Option<SimTime>,
) -> Option<WorkloadKind> {
    let arrivals = fields
        .require_with(
            ctx,
            "load",
            " ([workloads.load]: the users' arrival rate, in users per second)",
        )
        .and_then(|n| {
            let spec = load::read(ctx, &n, name)?;
            if spec.noise_interval.is_some() {
                ctx.error(
                    &n.span,
                    &reader::join_key(&n.path, "noise"),
                    "does not apply to a session workload: its users already arrive as a \
                     Poisson process with the load's rate",
                );
                return None;
            }
            Some(spec.shape)
        });
    if let (Some(end), Some(Some(stop))) = (end, &stop) {
        if *stop > end {
            ctx.warn(
                &fields.key_span("stop"),
                &reader::join_key(&fields.path, "stop"),
                format!("is after the end of the run ({end}): it changes nothing"),
            );
        }
    }
    let session = fields.require_with(
        ctx,
        "session",
        " ([workloads.session] with the sessions' `length`)",
    )?;
    let session = reader::table(ctx, &session, SESSION_KEYS)?;
    let length = session
        .require_with(
            ctx,
            "length",
            " (how long a session lasts: a duration or a distribution)",
        )
        .and_then(|n| distribution(ctx, &n, Unit::Duration));
    let patience = match session.get("patience") {
        None => Some(None),
        Some(n) => distribution(ctx, &n, Unit::Duration).map(Some),
    };
    Some(WorkloadKind::Session(SessionSpec {
        arrivals: arrivals?,
        start,
        stop: stop?,
        length: length?,
        patience: patience?,
    }))
}
