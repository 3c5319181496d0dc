//! Property tests: the parsers of untrusted input never panic, and what they produce stays
//! proportional to what they were given (or within their documented bounds), in bounded
//! time. The YAML config decoder (through `Config::parse`), the keepalived lexer and
//! converter (`convert_str`), and the control socket's request parser.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::Config as PropConfig;
use vipd::config::Config;
use vipd::control::protocol::Request;
use vipd::convert::{self, Options, lexer};

/// Cases per property; PROP_CASES overrides (the default keeps a shared 2-core box usable).
fn cases() -> u32 {
    std::env::var("PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Generous per-case time bound for a loaded machine; a blow-up takes far longer.
const CASE_TIME: Duration = Duration::from_secs(10);

/// An empty directory for relative includes, so generated input reads nothing real.
fn empty_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("vipd-prop-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// YAML-ish text: config keys, values and the syntax that makes structure.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("instances:".to_owned()),
        Just("checks:".to_owned()),
        Just("global:".to_owned()),
        Just("groups:".to_owned()),
        Just("  web:".to_owned()),
        Just("    vrid: 51".to_owned()),
        Just("    interface: eth0".to_owned()),
        Just("    vips: [192.0.2.1/24]".to_owned()),
        Just("    priority: 300".to_owned()),
        Just("    track: [{check: x, weight: -10}]".to_owned()),
        Just("    notify: {any: /bin/true}".to_owned()),
        Just("&a [1, 2]".to_owned()),
        Just("*a".to_owned()),
        Just("<<: *a".to_owned()),
        Just("- ".to_owned()),
        Just("{".to_owned()),
        Just("[".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just(": ".to_owned()),
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("!!binary".to_owned()),
        Just("? ".to_owned()),
        "[a-z0-9_./:-]{0,12}",
        "\\PC{0,8}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.join(""))
}

/// keepalived-ish text: keywords, braces, quotes, parameters, conditionals, includes.
fn keepalivedish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("vrrp_instance V".to_owned()),
        Just("global_defs".to_owned()),
        Just("vrrp_script chk".to_owned()),
        Just("vrrp_sync_group G".to_owned()),
        Just("virtual_ipaddress".to_owned()),
        Just("interface eth0".to_owned()),
        Just("virtual_router_id 7".to_owned()),
        Just("priority 100".to_owned()),
        Just("track_script".to_owned()),
        Just("script \"/bin/true\"".to_owned()),
        Just("192.0.2.1/24".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\x4".to_owned()),
        Just("#".to_owned()),
        Just("!".to_owned()),
        Just("$A=".to_owned()),
        Just("$B=$A $A $A $A".to_owned()),
        // Self-reference: doubles at every substitution pass.
        Just("\n$A=$A $A\n".to_owned()),
        Just("\n$B=${A}${B}\n".to_owned()),
        Just("$A".to_owned()),
        Just("${B}".to_owned()),
        Just("@lb1 ".to_owned()),
        Just("~SEQ(i,1,3)".to_owned()),
        Just("include none*.conf".to_owned()),
        Just("include \"{a,b}{c,d}\"".to_owned()),
        Just("\\\n".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        "[a-z0-9_.]{0,10}",
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..80).prop_map(|v| v.join(""))
}

/// JSON-ish text around the control protocol's fields.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"version\"".to_owned()),
        Just("\"command\"".to_owned()),
        Just("\"status\"".to_owned()),
        Just("\"maintenance\"".to_owned()),
        Just("\"on\"".to_owned()),
        Just("\"instance\"".to_owned()),
        Just("\"events\"".to_owned()),
        Just("\"reload\"".to_owned()),
        Just("1".to_owned()),
        Just("-1".to_owned()),
        Just("4294967296".to_owned()),
        Just("1e999".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        "\\PC{0,8}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.join(""))
}

proptest! {
    #![proptest_config(PropConfig { cases: cases(), failure_persistence: None, ..PropConfig::default() })]

    #[test]
    fn the_config_decoder_never_panics_and_reports_in_proportion(
        text in prop_oneof![yamlish(), "\\PC{0,400}"]
    ) {
        let start = Instant::now();
        let result = Config::parse(&text, "p.yaml");
        prop_assert!(start.elapsed() < CASE_TIME, "{:?}", start.elapsed());
        if let Err(errors) = result {
            // Each error names a key path and a position, quoting at most a bounded part.
            let shown = errors.to_string().len();
            prop_assert!(shown <= 400 * (text.len() + 1), "{shown} bytes for {} in", text.len());
        }
    }

    #[test]
    fn the_keepalived_lexer_never_panics_and_never_grows_a_line(line in "\\PC{0,300}") {
        let stripped = lexer::strip_comment(&line);
        prop_assert!(stripped.len() <= line.len());
        if let Ok(tokens) = lexer::tokens(stripped) {
            let chars: usize = tokens
                .iter()
                .map(|t| match t {
                    lexer::Token::Word(w) => w.chars().count(),
                    _ => 1,
                })
                .sum();
            prop_assert!(chars <= stripped.chars().count());
        }
    }

    #[test]
    fn the_keepalived_converter_never_panics_and_stays_within_its_bounds(
        text in prop_oneof![keepalivedish(), "\\PC{0,400}"]
    ) {
        let dir = empty_dir();
        let start = Instant::now();
        let options = Options { config_id: Some("lb1".into()) };
        let result = convert::convert_str(&text, "p.conf", &dir, &options);
        prop_assert!(start.elapsed() < CASE_TIME, "{:?}", start.elapsed());
        match result {
            Ok(c) => {
                let out = c.yaml.map_or(0, |y| y.len())
                    + c.unsupported.iter().map(|u| u.to_string().len()).sum::<usize>();
                // Without parameters the output is proportional to the input; with them a
                // line may grow to the substitution bound (64 KiB) but no further.
                let bound = if text.contains('$') { 64 * 1024 * (text.lines().count() + 1) } else { 0 };
                prop_assert!(out <= 200 * (text.len() + 1) + 4096 + 2 * bound, "{out} bytes out");
            }
            Err(e) => prop_assert!(e.to_string().len() <= 4096, "{e}"),
        }
    }

    #[test]
    fn the_control_request_parser_never_panics(line in prop_oneof![jsonish(), "\\PC{0,300}"]) {
        let start = Instant::now();
        if let Ok(req) = serde_json::from_str::<Request>(&line) {
            // Whatever it accepted came from the line.
            let echoed = serde_json::to_string(&req).unwrap();
            prop_assert!(echoed.len() <= 8 * (line.len() + 16));
        }
        prop_assert!(start.elapsed() < CASE_TIME);
    }
}

/// Inputs that defeat naive parsers: deep nesting and alias expansion.
#[test]
fn deep_nesting_and_alias_bombs_are_refused_quickly() {
    let start = Instant::now();
    let deep_json = "[".repeat(100_000);
    assert!(serde_json::from_str::<Request>(&deep_json).is_err());
    let deep_obj = "{\"version\":1,\"command\":\"status\",\"x\":".to_owned() + &"[".repeat(100_000);
    assert!(serde_json::from_str::<Request>(&deep_obj).is_err());

    let deep_yaml = "[".repeat(100_000);
    assert!(Config::parse(&deep_yaml, "deep.yaml").is_err());
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = if i == 1 {
            "a".to_owned()
        } else {
            format!("a{}", i - 1)
        };
        laughs.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
    }
    let r = Config::parse(&laughs, "laughs.yaml");
    assert!(r.is_err());

    let dir = empty_dir();
    let deep_conf = "a {\n".repeat(100_000);
    assert!(convert::convert_str(&deep_conf, "deep.conf", &dir, &Options::default()).is_err());
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}
