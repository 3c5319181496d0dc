//! Reading keepalived's argument values.

/// An integer argument within `lo..=hi`.
pub fn int(arg: Option<&str>, lo: i64, hi: i64) -> Option<i64> {
    arg?.parse::<i64>().ok().filter(|v| (lo..=hi).contains(v))
}

/// keepalived's `<TIMER>`: seconds with an optional fraction (`2.71828`), in microseconds,
/// keepalived's own resolution.
pub fn secs(arg: &str) -> Option<u64> {
    let (whole, frac) = arg.split_once('.').unwrap_or((arg, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros = 0u64;
    for (k, c) in frac.chars().take(6).enumerate() {
        micros += u64::from(c.to_digit(10)?) * 10u64.pow(5 - k as u32);
    }
    whole.checked_mul(1_000_000)?.checked_add(micros)
}

/// keepalived's `<BOOL>`; a missing argument means on.
pub fn bool_arg(arg: Option<&str>) -> Option<bool> {
    match arg.map(str::to_ascii_lowercase).as_deref() {
        None | Some("on" | "true" | "yes") => Some(true),
        Some("off" | "false" | "no") => Some(false),
        _ => None,
    }
}

/// A command line for `/bin/sh -c` from keepalived's words. keepalived splits a quoted
/// script string at spaces itself (single quotes group), which is what sh does too, so a
/// single word is passed through as is; separate words that contain spaces are quoted.
pub fn command_line(words: &[String]) -> String {
    if let [one] = words {
        return one.clone();
    }
    words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(char::is_whitespace) {
                format!("'{}'", w.replace('\'', r"'\''"))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A duration for vipd's YAML: `"2s"`, `"1500ms"`, `"250us"`.
pub fn duration(us: u64) -> String {
    if us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us % 1000 == 0 {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers() {
        assert_eq!(secs("3"), Some(3_000_000));
        assert_eq!(secs("0.5"), Some(500_000));
        assert_eq!(secs("2.71828"), Some(2_718_280));
        assert_eq!(secs(".25"), Some(250_000));
        assert_eq!(secs("1.0000005"), Some(1_000_000));
        assert_eq!(secs("-1"), None);
        assert_eq!(secs("1s"), None);
        assert_eq!(secs("."), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration(2_000_000), "2s");
        assert_eq!(duration(1_500_000), "1500ms");
        assert_eq!(duration(250), "250us");
        assert_eq!(duration(0), "0s");
    }

    #[test]
    fn bools_and_ints() {
        assert_eq!(bool_arg(None), Some(true));
        assert_eq!(bool_arg(Some("Off")), Some(false));
        assert_eq!(bool_arg(Some("maybe")), None);
        assert_eq!(int(Some("255"), 1, 255), Some(255));
        assert_eq!(int(Some("256"), 1, 255), None);
        assert_eq!(int(None, 1, 255), None);
    }

    #[test]
    fn command_lines() {
        assert_eq!(command_line(&["killall -0 sshd".into()]), "killall -0 sshd");
        assert_eq!(
            command_line(&["/bin/chk".into(), "a b".into(), "c".into()]),
            "/bin/chk 'a b' c"
        );
    }
}
