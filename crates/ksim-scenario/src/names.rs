//! Name helpers: "did you mean" suggestions and the Kubernetes syntax rules
//! for label keys, label values and extended resource names
//! (k8s.io/apimachinery validation IsQualifiedName / IsValidLabelValue,
//! k8s.io/kubernetes helper IsExtendedResourceName).

/// The allowed name closest to `given`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'c>(given: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = given.to_ascii_lowercase();
    let snake = camel_to_snake(given);
    if let Some(c) = candidates
        .iter()
        .find(|c| c.to_ascii_lowercase() == lower || **c == snake)
    {
        return Some(c);
    }
    let (distance, best) = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .min_by_key(|(d, _)| *d)?;
    if distance <= (given.chars().count() / 3).max(1) {
        return Some(best);
    }
    // A truncated key such as `mem` for `memory`.
    if given.len() >= 3 {
        return candidates.iter().find(|c| c.starts_with(&lower)).copied();
    }
    None
}

/// `maxPods` -> `max_pods`, for people used to Kubernetes YAML.
fn camel_to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// "`a`, `b` or `c`".
pub(crate) fn list(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn is_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A name that ksim itself prints in output columns (`store/<name>`), so it
/// may not contain separators: a label-value-like name part.
pub(crate) fn check_component_name(s: &str, what: &str) -> Result<(), String> {
    if is_name_part(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid {what}: up to 63 letters, digits, `-`, `_` or `.`, \
             starting and ending with a letter or digit"
        ))
    }
}

/// A DNS-1123 subdomain: lowercase alphanumerics, `-` and `.`, at most 253.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// A label key, taint key or toleration key: `[prefix/]name`.
pub(crate) fn check_qualified_name(s: &str) -> Result<(), String> {
    let ok = match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_name_part(name),
        None => is_name_part(s),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid key: use an optional DNS-subdomain prefix and `/`, then up \
             to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit \
             (e.g. `topology.kubernetes.io/zone`)"
        ))
    }
}

/// A label value or taint value: empty, or a name part.
pub(crate) fn check_label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || is_name_part(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid label value: up to 63 letters, digits, `-`, `_` or `.`, \
             starting and ending with a letter or digit"
        ))
    }
}

/// Extended resources are domain-qualified and outside `kubernetes.io/`.
pub(crate) fn check_extended_resource(s: &str) -> Result<(), String> {
    if !s.contains('/') {
        return Err(format!(
            "`{s}` is not an extended resource name: extended resources are domain-qualified, \
             like `nvidia.com/gpu` (cpu, memory, ephemeral storage and pods have their own keys)"
        ));
    }
    if s.contains("kubernetes.io/") {
        return Err(format!(
            "`{s}` is not an extended resource name: the `kubernetes.io/` domain is reserved \
             for native resources"
        ));
    }
    check_qualified_name(s).map_err(|_| {
        format!(
            "`{s}` is not a valid extended resource name: use `domain/name`, like `nvidia.com/gpu`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["name", "count", "cpu", "memory", "max_pods"];
        assert_eq!(suggest("cout", &keys), Some("count"));
        assert_eq!(suggest("nmae", &keys), Some("name"));
        assert_eq!(suggest("maxPods", &keys), Some("max_pods"));
        assert_eq!(suggest("Memory", &keys), Some("memory"));
        assert_eq!(suggest("mem", &keys), Some("memory"));
        assert_eq!(suggest("zone", &keys), None);
        assert_eq!(suggest("", &keys), None);
    }

    // Cases of k8s.io/apimachinery validation TestIsQualifiedName.
    #[test]
    fn qualified_names_follow_upstream() {
        let long_prefix = format!("{}/{}", "a".repeat(253), "b".repeat(63));
        for good in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "1234",
            "simple/simple",
            "now-with-dashes/simple",
            "now-with-dashes/now-with-dashes",
            "now.with.dots/simple",
            "now-with.dashes-and.dots/simple",
            "1-num.2-num/3-num",
            "1234/5678",
            "1.2.3.4/5678",
            "Uppercase_Is_OK_123",
            "example.com/Uppercase_Is_OK_123",
            "requests.storage-foo",
            &"a".repeat(63),
            &long_prefix,
        ] {
            assert!(check_qualified_name(good).is_ok(), "{good}");
        }
        let too_long_prefix = format!("{}/abc", "a".repeat(254));
        for bad in [
            "nospecialchars%^=@",
            "cantendwithadash-",
            "-cantstartwithadash-",
            "only/one/slash",
            "Example.com/abc",
            "example_com/abc",
            "example.com/",
            "/simple",
            &"a".repeat(64),
            &too_long_prefix,
            "",
        ] {
            assert!(check_qualified_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_values_are_empty_or_a_name_part() {
        assert!(check_label_value("").is_ok());
        assert!(check_label_value(&"v".repeat(63)).is_ok());
        assert!(check_label_value(&"v".repeat(64)).is_err());
        assert!(check_label_value("a.b_c-9").is_ok());
        assert!(check_label_value("has space").is_err());
        assert!(check_label_value("-dash").is_err());
    }

    #[test]
    fn extended_resources_must_be_qualified_and_not_native() {
        assert!(check_extended_resource("nvidia.com/gpu").is_ok());
        assert!(check_extended_resource("gpu").is_err());
        assert!(check_extended_resource("kubernetes.io/foo").is_err());
        assert!(check_extended_resource("a.kubernetes.io/foo").is_err());
    }
}
