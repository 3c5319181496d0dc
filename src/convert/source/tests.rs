//! Reader and tree tests: includes, comments, quotes, nesting, conditionals, parameters and
//! errors with their line numbers.

use std::path::{Path, PathBuf};

use crate::convert::tree::{Node, build};
use crate::convert::{ConvertError, Options, Unsupported};

fn parse_with(
    text: &str,
    dir: &Path,
    options: &Options,
) -> (Result<Vec<Node>, ConvertError>, Vec<Unsupported>) {
    let mut unsupported = Vec::new();
    let nodes = super::read_text(text, "main.conf", dir, options, &mut unsupported)
        .and_then(|lines| build(&lines));
    (nodes, unsupported)
}

fn parse(text: &str) -> Vec<Node> {
    let (nodes, unsupported) = parse_with(text, Path::new("."), &Options::default());
    assert!(unsupported.is_empty(), "{unsupported:?}");
    nodes.expect("parses")
}

fn syntax_error(text: &str) -> (u32, String) {
    match parse_with(text, Path::new("."), &Options::default()).0 {
        Err(ConvertError::Syntax { at, message }) => (at.line, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("vipd-conv-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn blocks_nest_and_keep_line_numbers() {
    let nodes = parse(
        "! comment\nvrrp_instance VI_1\n{\n  interface eth0   # trailing\n  track_script { chk weight 2 }\n  virtual_ipaddress {\n    10.0.0.1/24 dev eth0\n  }\n}\n",
    );
    assert_eq!(nodes.len(), 1);
    let vi = &nodes[0];
    assert_eq!(
        (vi.name.as_str(), vi.args.clone(), vi.loc.line),
        ("vrrp_instance", vec!["VI_1".to_owned()], 2)
    );
    let kids = vi.children();
    assert_eq!(kids[0].name, "interface");
    assert_eq!(kids[0].args, vec!["eth0"]);
    assert_eq!(kids[0].loc.line, 4);
    assert_eq!(kids[1].children()[0].name, "chk");
    assert_eq!(kids[1].children()[0].args, vec!["weight", "2"]);
    let vip = &kids[2].children()[0];
    assert_eq!((vip.name.as_str(), vip.loc.line), ("10.0.0.1/24", 7));
    assert_eq!(vip.args, vec!["dev", "eth0"]);
}

#[test]
fn quoted_strings_are_one_argument() {
    let nodes = parse("vrrp_script s {\n script \"/bin/check 'a b' # not a comment\"\n}\n");
    let script = &nodes[0].children()[0];
    assert_eq!(script.args, vec!["/bin/check 'a b' # not a comment"]);
}

#[test]
fn brace_errors_name_their_line() {
    assert_eq!(syntax_error("a {\n b\n}\n}\n").0, 4);
    let (line, msg) = syntax_error("x 1\nvrrp_instance V {\n interface e\n");
    assert_eq!(line, 2);
    assert!(msg.contains("never closed"), "{msg}");
    let (line, msg) = syntax_error("{\n");
    assert_eq!(line, 1);
    assert!(msg.contains("without a keyword"), "{msg}");
    let (line, msg) = syntax_error("a\n\nscript \"open\n");
    assert_eq!(line, 3);
    assert!(msg.contains("unterminated"), "{msg}");
}

#[test]
fn includes_are_relative_to_the_including_file_and_globbed() {
    let s = Scratch::new("inc");
    s.write(
        "main.conf",
        "global_defs {\n include defs/*.conf\n}\ninclude sub/inst.conf\n",
    );
    s.write("defs/b.conf", "router_id B\n");
    s.write("defs/a.conf", "router_id A\n");
    // Relative to sub/, not to the main file.
    s.write("sub/inst.conf", "vrrp_instance V {\ninclude more.conf\n}\n");
    s.write("sub/more.conf", "\n\npriority 7\n");
    let mut unsupported = Vec::new();
    let lines = super::read(
        &s.0.join("main.conf"),
        &Options::default(),
        &mut unsupported,
    )
    .expect("reads");
    let nodes = build(&lines).expect("builds");
    let ids: Vec<&str> = nodes[0].children().iter().filter_map(|n| n.arg()).collect();
    assert_eq!(ids, ["A", "B"], "sorted like glob(3)");
    let prio = &nodes[1].children()[0];
    assert_eq!(prio.name, "priority");
    assert_eq!(prio.loc.line, 3);
    assert!(
        prio.loc.file.ends_with("sub/more.conf"),
        "{}",
        prio.loc.file
    );
    // A pattern may match nothing (keepalived logs it and reads on), which is reported; a
    // plain missing file is an error.
    let (r, unsupported) = parse_with("include none/*.conf\n", &s.0, &Options::default());
    assert_eq!(r.expect("empty glob is not an error"), vec![]);
    assert_eq!(unsupported.len(), 1, "{unsupported:?}");
    assert!(
        unsupported[0].reason.contains("matches no file"),
        "{unsupported:?}"
    );
    let (r, _) = parse_with("include missing.conf\n", &s.0, &Options::default());
    assert!(matches!(r, Err(ConvertError::Io { .. })), "{r:?}");
}

#[test]
fn include_cycles_are_detected() {
    let s = Scratch::new("cycle");
    s.write("a.conf", "include b.conf\n");
    s.write("b.conf", "x 1\ninclude ./a.conf\n");
    let mut unsupported = Vec::new();
    match super::read(&s.0.join("a.conf"), &Options::default(), &mut unsupported) {
        Err(ConvertError::IncludeCycle { at, chain }) => {
            assert_eq!(at.line, 2);
            assert!(at.file.ends_with("b.conf"));
            assert!(
                chain.contains("a.conf -> ") && chain.ends_with("a.conf"),
                "{chain}"
            );
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let text = "@lb1 priority 150\n@lb2 priority 100\n@^lb1 state BACKUP\n";
    let id = |s: &str| Options {
        config_id: Some(s.to_owned()),
    };
    let names = |nodes: Vec<Node>| -> Vec<String> {
        nodes
            .iter()
            .map(|n| format!("{} {}", n.name, n.args.join(" ")))
            .collect()
    };
    let (r, _) = parse_with(text, Path::new("."), &id("lb1"));
    assert_eq!(names(r.expect("parses")), ["priority 150"]);
    let (r, _) = parse_with(text, Path::new("."), &id("lb2"));
    assert_eq!(names(r.expect("parses")), ["priority 100", "state BACKUP"]);
    // Without an id every conditional line is reported, with its line.
    let (r, unsupported) = parse_with(text, Path::new("."), &Options::default());
    assert_eq!(r.expect("parses"), vec![]);
    let lines: Vec<u32> = unsupported.iter().map(|u| u.loc.line).collect();
    assert_eq!(lines, [1, 2, 3]);
    assert_eq!(unsupported[2].keyword, "@^lb1");
}

#[test]
fn parameters_are_substituted() {
    let text = "$BASE=10.2.${SUB}\n$SUB=0\naddr ${BASE}.100/32\n$PRIO=240\npriority $PRIO\nkeep $UNDEFINED ${_HASH}x\n";
    let nodes = parse(text);
    assert_eq!(nodes[0].args, ["10.2.0.100/32"]);
    assert_eq!(nodes[1].args, ["240"]);
    assert_eq!(nodes[2].args, ["$UNDEFINED", "#x"]);
    let (line, msg) = syntax_error("$A=x$A\ny ${A}\n");
    assert_eq!(line, 2);
    assert!(msg.contains("does not terminate"), "{msg}");
}

#[test]
fn unsupported_template_features_are_reported_not_guessed() {
    let (r, unsupported) = parse_with(
        "$M= \\\n a \\\n b\n~SEQ(i, 1, 3) x $i\nok 1\n",
        Path::new("."),
        &Options::default(),
    );
    let nodes = r.expect("parses");
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].loc.line, 5);
    let got: Vec<(u32, &str)> = unsupported
        .iter()
        .map(|u| (u.loc.line, u.keyword.as_str()))
        .collect();
    assert_eq!(got, [(1, "$M"), (4, "~SEQ")]);
}

/// keepalived never reads comments, so a Latin-1 byte in one must not stop the conversion;
/// outside a comment it is still refused, naming only the offset.
#[test]
fn a_non_utf8_byte_in_a_comment_is_passed_over() {
    assert_eq!(
        super::decode::decode(b"router_id a # Fran\xe7ois\npriority 5\n".to_vec())
            .expect("decodes"),
        "router_id a # Fran\u{fffd}ois\npriority 5\n"
    );
    assert_eq!(
        super::decode::decode(b"priority 5\n! caf\xe9\n".to_vec()).expect("decodes"),
        "priority 5\n! caf\u{fffd}\n"
    );
    assert_eq!(
        super::decode::decode(b"a\nrouter_id \xe9 # x\n".to_vec()),
        Err(12)
    );
}
