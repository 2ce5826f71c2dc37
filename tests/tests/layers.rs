//! The layering rule of docs/architecture.md, checked on the source: `probe/src/kernel/`
//! (the only module that talks to the kernel) uses nothing from the layers above it. Every
//! `.rs` file under it is parsed (syn) and every path it names is resolved to a top-level
//! module of the library: `crate::X::..`, `super::..` chains, and `crate :: X` inside macro
//! invocations. Test code counts too: a test that needs the layers above (translating what
//! the decoders return, say) lives in those layers, where it can use the kernel's test
//! helpers.

use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The library's top-level modules the kernel layer must not use.
const ABOVE_KERNEL: &[&str] = &[
    "ruleset", "ext", "docker", "audit", "report", "claims", "drops", "host", "cli", "metrics",
    "prove", "serve", "needs",
];

/// The library's source: this tree's, or another checkout's named by `NFPROBE_SRC` (to see
/// what an older tree did wrong).
fn probe_src() -> PathBuf {
    match std::env::var_os("NFPROBE_SRC") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../probe/src"),
    }
}

/// One use of a module above the kernel: the file and the path as written.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    path: String,
}

struct Scan<'a> {
    file: &'a str,
    /// The module path of the item being visited (`["kernel", "xt", "entry"]`), inline
    /// `mod x { }` blocks included.
    module: Vec<String>,
    forbidden: &'a [&'a str],
    found: Vec<Violation>,
}

impl Scan<'_> {
    /// The top-level module a path lands in when it starts from the crate root
    /// (`crate::X..`) or from this module (`super::..`, `self::..`); None for other paths
    /// (std, other crates, local names).
    fn target(&self, segs: &[String]) -> Option<String> {
        let (mut base, mut i) = match segs.first()?.as_str() {
            "crate" => (Vec::new(), 1),
            "super" | "self" => (self.module.clone(), 0),
            _ => return None,
        };
        while let Some(s) = segs.get(i) {
            match s.as_str() {
                "super" => {
                    base.pop()?;
                }
                "self" => {}
                _ => break,
            }
            i += 1;
        }
        if let Some(s) = segs.get(i) {
            base.push(s.clone());
        }
        base.first().cloned()
    }

    fn check(&mut self, segments: Vec<String>) {
        if let Some(top) = self.target(&segments)
            && self.forbidden.contains(&top.as_str())
        {
            self.found.push(Violation {
                file: self.file.to_owned(),
                path: segments.join("::"),
            });
        }
    }

    /// `crate :: x :: ..` / `super :: ..` sequences inside macro tokens.
    fn tokens(&mut self, ts: TokenStream) {
        let toks: Vec<TokenTree> = ts.into_iter().collect();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (toks.get(j), toks.get(j + 1), toks.get(j + 2))
                        && a.as_char() == ':'
                        && b.as_char() == ':'
                    {
                        segs.push(next.to_string());
                        j += 3;
                    }
                    self.check(segs);
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

fn idents(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// Every path a `use` tree names, from its root.
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut v = prefix.clone();
            v.push(n.ident.to_string());
            out.push(v);
        }
        syn::UseTree::Rename(r) => {
            let mut v = prefix.clone();
            v.push(r.ident.to_string());
            out.push(v);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Scan<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut out = Vec::new();
        use_paths(&u.tree, &mut Vec::new(), &mut out);
        for segs in out {
            self.check(segs);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.check(idents(p));
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
}

/// The module path of a source file (`kernel/xt/mod.rs` → `kernel::xt`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every use of `forbidden` top-level modules by the code under `src/dir`.
fn scan(src: &Path, dir: &str, forbidden: &[&str]) -> (Vec<Violation>, usize) {
    let mut files = Vec::new();
    rs_files(&src.join(dir), &mut files);
    assert!(
        !files.is_empty(),
        "no source under {}",
        src.join(dir).display()
    );
    let mut found = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).unwrap_or(f);
        let text = std::fs::read_to_string(f).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let module = module_of(rel);
        let mut s = Scan {
            file: &rel.display().to_string(),
            module: module.clone(),
            forbidden,
            found: Vec::new(),
        };
        s.visit_file(&ast);
        found.extend(s.found);
    }
    (found, files.len())
}

#[test]
fn kernel_uses_no_layer_above_it() {
    let (found, scanned) = scan(&probe_src(), "kernel", ABOVE_KERNEL);
    assert!(scanned > 20, "only {scanned} kernel files scanned");
    let list: Vec<String> = found
        .iter()
        .map(|v| format!("  probe/src/{}: {}", v.file, v.path))
        .collect();
    assert!(
        found.is_empty(),
        "probe/src/kernel/ must not use the layers above it (docs/architecture.md):\n{}",
        list.join("\n")
    );
}

/// The scanner itself: it sees each way of naming a module above, and not the ones that
/// stay inside the kernel layer.
#[test]
fn the_scanner_sees_every_way_of_naming_a_module() {
    let dir = std::env::temp_dir().join(format!("nfprobe-layers-{}", std::process::id()));
    let kernel = dir.join("kernel/xt");
    std::fs::create_dir_all(&kernel).unwrap();
    let bad = [
        "use crate::ruleset::Rule;",
        "use crate::{bytes::Reader, ext::cache::ExtCache};",
        "fn f() { let _ = crate::docker::x(); }",
        "fn f() -> super::super::super::audit::Finding { todo!() }",
        "fn f() { log::debug!(\"{}\", crate::report::x()); }",
        "pub use crate::claims::*;",
        "#[cfg(test)] mod tests { use crate::ruleset::Rule; }",
    ];
    let good = [
        "use crate::bytes::Reader;",
        "use super::super::netns::run_in;",
        "fn f() -> super::super::docker::X { todo!() }",
        "use std::collections::HashMap;",
    ];
    for (i, line) in bad.iter().chain(&good).enumerate() {
        std::fs::write(kernel.join(format!("f{i}.rs")), line).unwrap();
    }
    // A test module in a file of its own, declared by its parent.
    std::fs::write(kernel.join("mod.rs"), "#[cfg(test)]\nmod more_tests;").unwrap();
    std::fs::write(kernel.join("more_tests.rs"), "use crate::ruleset::Rule;").unwrap();
    let (found, _) = scan(&dir, "kernel", ABOVE_KERNEL);
    std::fs::remove_dir_all(&dir).unwrap();
    let files: Vec<&str> = found.iter().map(|v| v.file.as_str()).collect();
    for (i, line) in bad.iter().enumerate() {
        let f = format!("kernel/xt/f{i}.rs");
        assert!(files.contains(&f.as_str()), "missed: {line}");
    }
    for i in bad.len()..bad.len() + good.len() {
        let f = format!("kernel/xt/f{i}.rs");
        assert!(!files.contains(&f.as_str()), "false alarm: {found:?}");
    }
    assert!(files.contains(&"kernel/xt/more_tests.rs"), "{found:?}");
}
