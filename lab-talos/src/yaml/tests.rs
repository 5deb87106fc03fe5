//! The emitter against yaml.v3's own choices.

use super::*;

fn style(s: &str) -> String {
    to_string(&Node::from_pairs([("k", Node::str(s))]))
}

#[test]
fn quoting_follows_yaml_v3() {
    assert_eq!(style(""), "k: \"\"\n");
    assert_eq!(style("true"), "k: \"true\"\n");
    assert_eq!(style("yes"), "k: \"yes\"\n");
    assert_eq!(style("1.28"), "k: \"1.28\"\n");
    assert_eq!(style("6443"), "k: \"6443\"\n");
    assert_eq!(style("0x1F"), "k: \"0x1F\"\n");
    assert_eq!(style("1:20"), "k: \"1:20\"\n");
    assert_eq!(style("2024-01-02"), "k: \"2024-01-02\"\n");
    assert_eq!(style("null"), "k: \"null\"\n");
    assert_eq!(style("*"), "k: '*'\n");
    assert_eq!(style("- x"), "k: '- x'\n");
    assert_eq!(style("a: b"), "k: 'a: b'\n");
    assert_eq!(style("a #b"), "k: 'a #b'\n");
    assert_eq!(style(" lead"), "k: ' lead'\n");
    assert_eq!(style("it's"), "k: it's\n");
    assert_eq!(style("'quoted'"), "k: '''quoted'''\n");
    assert_eq!(style("tab\there"), "k: \"tab\\there\"\n");
    assert_eq!(style("$(POD_IP):10249"), "k: $(POD_IP):10249\n");
    assert_eq!(style("https://x:6443"), "k: https://x:6443\n");
    assert_eq!(style("v1.28.0"), "k: v1.28.0\n");
    assert_eq!(style("1.2.3"), "k: 1.2.3\n");
    assert_eq!(style("-"), "k: '-'\n");
    assert_eq!(style("a\nb"), "k: |-\n    a\n    b\n");
    assert_eq!(style("a\n\nb\n"), "k: |\n    a\n\n    b\n");
    assert_eq!(style("a\n\n"), "k: |+\n    a\n\n");
    assert_eq!(style(" a\n"), "k: |4\n     a\n");
    assert_eq!(style("trail \nx"), "k: \"trail \\nx\"\n");
}

#[test]
fn floats_follow_strconv_g() {
    for (f, s) in [
        (1.5, "1.5"),
        (100.0, "100"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
    ] {
        assert_eq!(format_go_float(f), s, "{f}");
    }
}

#[test]
fn nested_indentation() {
    let doc = parse(
        "a:\n  - name: x\n    conf:\n      k: v\n      l: [1, 2]\n  - [p, q]\nb: {}\nc: []\n",
    )
    .unwrap();
    assert_eq!(
        to_string(&doc[0]),
        "a:\n    - name: x\n      conf:\n        k: v\n        l:\n            - 1\n            - 2\n    - - p\n      - q\nb: {}\nc: []\n"
    );
}

#[test]
fn go_map_order() {
    let mut keys = vec!["b", "B", "a1", "a01", "a-b", "ab", "_x", "x"];
    keys.sort_by(|a, b| go_key_cmp(a, b));
    assert_eq!(keys, ["_x", "B", "a-b", "a1", "a01", "ab", "b", "x"]);
}
