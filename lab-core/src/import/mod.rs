//! Import: an existing lab, read from the systems, written as Rust code
//! with the lab's own builders, plus the state that binds each resource
//! to the object it was read from.
//!
//! Why: a homelab rarely starts empty. `lab import` lets its owner take
//! over what exists without re-creating anything: the generated function
//! declares what was found, the state records which object each resource
//! is, and the next `plan` says "No changes".
//!
//! How it is split: lab-core knows no service, so each provider reads its
//! own world ([`crate::Provider::discover`]; the default reads nothing)
//! and answers with a [`Discovery`]: one [`ImportBlock`] per object it can
//! express (its address, the Rust statement that builds it, the variable
//! other blocks refer to, and for a managed resource the
//! [`ImportedState`] to record), and one [`Finding`] per object it cannot
//! express yet. This module puts the blocks of every instance into one
//! file ([`render`]): a `pub fn imported(lab: &mut Lab, <instance>:
//! &ProviderHandle, ..) -> Imported` taking one handle per instance that
//! bound a resource and returning every resource's handle, the blocks in dependency order (each provider's
//! [`ImportBlock::order`]: nodes, storages, pools, templates, guests, jobs),
//! and every finding as a comment where it would have been. The CLI's
//! `import` command (`cli/import.rs`) writes that file and the state.
//!
//! The no-change guarantee is the providers': a block's code must lower to
//! exactly the attributes its [`ImportedState`] records (the provider's
//! own read of the object), so the first plan after an import compares
//! equal values and the first apply changes nothing. An object a provider
//! cannot describe exactly is a [`Finding`], never a block that would plan
//! a change.

use crate::value::Attrs;
use crate::Address;

/// What one provider instance found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// The objects it can express, in any order ([`render`] sorts them by
    /// [`ImportBlock::order`], keeping the provider's order within a rank).
    pub blocks: Vec<ImportBlock>,
    /// The objects it cannot express yet (kept, never dropped silently).
    pub findings: Vec<Finding>,
    /// The `use` lines the blocks need (`use lab::proxmox::model::Vm;`).
    pub uses: Vec<String>,
}

/// One object as Rust code, and what the state records about it.
#[derive(Clone, Debug)]
pub struct ImportBlock {
    /// The resource's address (`proxmox.vm.web`).
    pub address: Address,
    /// The variable holding its handle, which later blocks name (and the
    /// field of the returned `Imported` struct).
    pub var: String,
    /// The handle's Rust type, e.g. `Handle<Vm>` (its type is in the
    /// block's `use` lines).
    pub handle: String,
    /// Its rank in the file: lower ranks come first (what it depends on
    /// has a lower rank).
    pub order: u32,
    /// The statement(s) that build it, e.g.
    /// `let vm_web = lab.add(Vm::new("web", &node_pve1).cores(2));`.
    /// `{provider}` stands for the instance's `ProviderHandle` variable
    /// (a managed resource binds to it with `.provider({provider})`).
    pub code: String,
    /// A comment line above the code (what was guessed, and why).
    pub comment: Option<String>,
    /// For a resource the provider applies: the state entry binding it to
    /// the object. `None` for model-only resources (a node, an existing
    /// storage or template), which are never read or written.
    pub state: Option<ImportedState>,
}

/// The state entry of an imported resource: what the provider's read
/// returns for the object, so the next refresh compares equal values.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedState {
    /// The provider's id (a VMID, a storage id).
    pub id: String,
    /// The attributes as the provider reads them back (normalised).
    pub attrs: Attrs,
    /// Its outputs.
    pub outputs: Attrs,
    /// The resources it depends on (orders a later destroy).
    pub deps: Vec<Address>,
}

/// An object the provider found and cannot express yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What it is, as the service names it (`VM 105 (legacy)`).
    pub object: String,
    /// Why it is not in the code, and what to do.
    pub reason: String,
}

impl Finding {
    /// A finding about `object`.
    pub fn new(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Finding {
            object: object.into(),
            reason: reason.into(),
        }
    }
}

/// A builder call chain as the generated code writes it, one call per
/// line, added to the lab:
///
/// ```
/// use lab_core::import::Chain;
/// let mut c = Chain::new("Pool::new(\"prod\")".into());
/// c.call("comment(\"x\")");
/// assert_eq!(
///     c.add_to_lab("pool_prod"),
///     "let pool_prod = lab.add(\n    Pool::new(\"prod\")\n        .comment(\"x\")\n);"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Chain {
    lines: Vec<String>,
}

impl Chain {
    /// A chain starting with `head` (`Vm::new("web", &node_pve1)`).
    pub fn new(head: String) -> Self {
        Chain { lines: vec![head] }
    }

    /// Appends `.call` on its own line.
    pub fn call(&mut self, call: impl Into<String>) -> &mut Self {
        self.lines.push(format!("    .{}", call.into()));
        self
    }

    /// `let var = lab.add(<chain>);`
    pub fn add_to_lab(&self, var: &str) -> String {
        let mut s = format!("let {var} = lab.add(\n");
        for l in &self.lines {
            s.push_str("    ");
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(");");
        s
    }
}

/// The discovery of one provider instance, named.
#[derive(Clone, Debug)]
pub struct InstanceDiscovery {
    /// The instance's name (`proxmox`, `primary`).
    pub instance: String,
    /// The provider's name (`proxmox`, `pbs`).
    pub provider: String,
    /// What it found.
    pub discovery: Discovery,
}

/// The name of the generated function.
pub const FUNCTION: &str = "imported";

/// A Rust identifier made from `text`: lower case, every other character
/// `_`, never starting with a digit, never a keyword.
///
/// ```
/// use lab_core::import::rust_ident;
/// assert_eq!(rust_ident("local-lvm"), "local_lvm");
/// assert_eq!(rust_ident("9000"), "_9000");
/// assert_eq!(rust_ident("type"), "type_");
/// ```
pub fn rust_ident(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while", "lab", "box", "try", "yield", "gen",
    ];
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// A Rust string literal of `text`: escaped as `{:?}` escapes, and `{`
/// written `\u{7b}`, so no literal can hold the `{provider}` placeholder
/// [`render`] replaces (a note reading `{provider}` stays that note).
///
/// ```
/// use lab_core::import::rust_str;
/// assert_eq!(rust_str("a \"b\"\nc"), r#""a \"b\"\nc""#);
/// assert_eq!(rust_str("{provider}"), r#""\u{7b}provider}""#);
/// ```
pub fn rust_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '{' => out.push_str("\\u{7b}"),
            // A single quote needs no escape in a string literal.
            '\'' => out.push('\''),
            c => out.extend(c.escape_debug()),
        }
    }
    out.push('"');
    out
}

/// The generated file: every instance's blocks in order, its findings as
/// comments, in one function. `describe` is the first comment line (what
/// was read). Deterministic: the same discoveries give the same bytes.
///
/// Fails when two blocks declare one address or one variable (a provider
/// bug, said so).
pub fn render(describe: &str, found: &[InstanceDiscovery]) -> Result<String, String> {
    let mut seen_vars = std::collections::BTreeSet::new();
    let mut seen_addrs = std::collections::BTreeSet::new();
    for d in found {
        for b in &d.discovery.blocks {
            if !seen_vars.insert(b.var.clone()) {
                return Err(format!(
                    "two imported objects would both be the variable `{}` ({})",
                    b.var, b.address
                ));
            }
            if !seen_addrs.insert(b.address.clone()) {
                return Err(format!("two imported objects would both be {}", b.address));
            }
        }
    }
    let mut all: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for d in found {
        all.extend(d.discovery.uses.iter().map(String::as_str));
    }
    let mut uses = vec!["use lab::prelude::*;".to_string()];
    uses.extend(
        merge_uses(&all)
            .into_iter()
            .filter(|u| u != "use lab::prelude::*;"),
    );
    // One handle per instance that binds a resource.
    let params: Vec<(&InstanceDiscovery, String)> = found
        .iter()
        .filter(|d| {
            d.discovery
                .blocks
                .iter()
                .any(|b| b.code.contains("{provider}"))
        })
        .map(|d| (d, rust_ident(&d.instance)))
        .collect();

    let mut out = String::new();
    out.push_str("// Generated by `lab import`. Edit it as your own code: it is.\n");
    for line in describe.lines() {
        out.push_str(&format!("// {line}\n"));
    }
    out.push_str(
        "//\n// Every resource below is bound in the state to the object it was read from,\n\
         // so the next `plan` says \"No changes\". Objects `lab` cannot express yet are\n\
         // listed as comments where they would be.\n\n",
    );
    for u in &uses {
        out.push_str(u);
        out.push('\n');
    }
    out.push('\n');
    // Every handle is returned, for the code the owner adds (an App on an
    // imported guest, a waiver, a backup job selecting it).
    let ordered: Vec<&ImportBlock> = found
        .iter()
        .flat_map(|d| {
            let mut b: Vec<&ImportBlock> = d.discovery.blocks.iter().collect();
            b.sort_by_key(|b| b.order);
            b
        })
        .collect();
    out.push_str("// In a binary crate the handles no code names yet are not warned about.\n");
    out.push_str(&format!(
        "/// What [`{FUNCTION}`] added: the handle of every resource.\n"
    ));
    out.push_str("#[allow(dead_code)]\n#[derive(Clone, Debug)]\npub struct Imported {\n");
    for b in &ordered {
        out.push_str(&format!(
            "    /// `{}`.\n    pub {}: {},\n",
            b.address, b.var, b.handle
        ));
    }
    out.push_str("}\n\n");
    out.push_str("/// The lab as `lab import` found it.\n");
    if params.is_empty() {
        out.push_str(&format!(
            "pub fn {FUNCTION}(lab: &mut Lab) -> Imported {{\n"
        ));
    } else {
        out.push_str(&format!("pub fn {FUNCTION}(\n    lab: &mut Lab,\n"));
        for (_, p) in &params {
            out.push_str(&format!("    {p}: &ProviderHandle,\n"));
        }
        out.push_str(") -> Imported {\n");
    }
    let mut first = true;
    for d in found {
        let handle = params
            .iter()
            .find(|(p, _)| p.instance == d.instance)
            .map(|(_, v)| v.clone());
        if !first {
            out.push('\n');
        }
        first = false;
        out.push_str(&format!("    // {} (`{}`)\n", d.instance, d.provider));
        let mut blocks: Vec<&ImportBlock> = d.discovery.blocks.iter().collect();
        blocks.sort_by_key(|b| b.order);
        for b in blocks {
            if let Some(c) = &b.comment {
                for line in c.lines() {
                    out.push_str(&format!("    // {line}\n"));
                }
            }
            let code = match &handle {
                Some(h) => b.code.replace("{provider}", h),
                None => b.code.clone(),
            };
            for line in code.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if !d.discovery.findings.is_empty() {
            out.push_str("    // Not imported (lab cannot express these yet):\n");
            for f in &d.discovery.findings {
                out.push_str(&format!("    // - {}: {}\n", f.object, f.reason));
            }
        }
    }
    out.push_str("    Imported {\n");
    for b in &ordered {
        out.push_str(&format!("        {},\n", b.var));
    }
    out.push_str("    }\n}\n");
    Ok(out)
}

/// The `use` lines, those of one module merged:
/// `use lab::proxmox::model::{Node, Vm};`.
fn merge_uses(uses: &std::collections::BTreeSet<&str>) -> Vec<String> {
    let mut by_module: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    for u in uses {
        let path = u.trim_start_matches("use ").trim_end_matches(';');
        let (module, items) = path.rsplit_once("::").unwrap_or(("", path));
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            by_module.entry(module).or_default().insert(item.trim());
        }
    }
    by_module
        .into_iter()
        .map(|(module, items)| match items.len() {
            1 => format!(
                "use {module}::{};",
                items.into_iter().next().unwrap_or_default()
            ),
            _ => format!(
                "use {module}::{{{}}};",
                items.into_iter().collect::<Vec<_>>().join(", ")
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str, order: u32, code: &str) -> ImportBlock {
        ImportBlock {
            address: Address::new("thing", name),
            var: rust_ident(name),
            handle: "Handle<Thing>".into(),
            order,
            code: code.to_string(),
            comment: None,
            state: None,
        }
    }

    #[test]
    fn blocks_come_in_rank_order_with_findings_and_handles() {
        let d = InstanceDiscovery {
            instance: "primary".into(),
            provider: "pbs".into(),
            discovery: Discovery {
                blocks: vec![
                    block(
                        "b",
                        2,
                        "let b = lab.add(Thing::new(\"b\").provider({provider}));",
                    ),
                    block("a", 1, "let a = lab.add(Thing::new(\"a\"));"),
                ],
                findings: vec![Finding::new("job x", "unknown kind")],
                uses: vec!["use lab::core::testing::Thing;".into()],
            },
        };
        let text = render("read from somewhere", &[d]).unwrap();
        let a = text.find("let a").unwrap();
        let b = text.find("let b").unwrap();
        assert!(a < b, "{text}");
        assert!(text.contains("    primary: &ProviderHandle,\n"), "{text}");
        assert!(text.contains(".provider(primary)"), "{text}");
        assert!(text.contains("// - job x: unknown kind"), "{text}");
        assert!(text.contains("// read from somewhere"), "{text}");
    }

    #[test]
    fn a_repeated_variable_is_refused() {
        let d = InstanceDiscovery {
            instance: "p".into(),
            provider: "p".into(),
            discovery: Discovery {
                blocks: vec![block("a", 1, ""), block("a", 1, "")],
                ..Discovery::default()
            },
        };
        assert!(render("", &[d]).unwrap_err().contains("`a`"));
    }

    #[test]
    fn a_note_holding_the_placeholder_is_kept_as_written() {
        let note = rust_str("made by {provider}");
        let d = InstanceDiscovery {
            instance: "proxmox".into(),
            provider: "proxmox".into(),
            discovery: Discovery {
                blocks: vec![block(
                    "a",
                    1,
                    &format!(
                        "let a = lab.add(Thing::new(\"a\").note({note}).provider({{provider}}));"
                    ),
                )],
                ..Discovery::default()
            },
        };
        let text = render("", &[d]).unwrap();
        assert!(
            text.contains(r#".note("made by \u{7b}provider}").provider(proxmox)"#),
            "{text}"
        );
    }

    #[test]
    fn identifiers_are_rust() {
        assert_eq!(rust_ident("pve-1"), "pve_1");
        assert_eq!(rust_ident(""), "_");
        assert_eq!(rust_ident("fn"), "fn_");
    }
}
