//! The README's first lab is `examples/first_lab.rs`, verbatim: the example
//! is built (and linted) in CI, so the code the README shows compiles.

use std::path::Path;

#[test]
fn readme_shows_the_first_lab_example_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let example =
        std::fs::read_to_string(root.join("examples/first_lab.rs")).expect("examples/first_lab.rs");
    // The README shows the file from its first `use` line on (the module
    // docs are for the example's own page).
    let start = example.find("use lab::prelude::*;").expect("a use line");
    let shown = &example[start..];
    let block = format!("```rust\n{shown}```\n");
    assert!(
        readme.contains(&block),
        "README.md must show examples/first_lab.rs (from `use lab::prelude::*;`) verbatim in a ```rust block"
    );
}
