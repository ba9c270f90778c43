//! The workspace's `rust-version` checked against what it builds with: the highest
//! `rust-version` among the registry packages in Cargo.lock, read from their manifests in
//! Cargo's registry sources. A test only; it says so and passes when the sources are absent.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// `rust-version = "1.88"` → (1, 88, 0), from the first such line of a manifest (the
    /// `[package]` table: registry manifests are normalised, with no workspace inheritance).
    fn declared_rust_version(manifest: &str) -> Option<(u32, u32, u32)> {
        let line = manifest.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "rust-version").then_some(value)
        })?;
        let text = line.trim().trim_matches('"');
        let mut parts = text.split('.').map(|part| part.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        Some((major, minor, patch))
    }

    /// (name, version) of every package Cargo.lock takes from a registry.
    fn registry_packages(lock: &str) -> Vec<(String, String)> {
        lock.split("[[package]]")
            .filter_map(|block| {
                let field = |key: &str| {
                    block.lines().find_map(|line| {
                        let (k, v) = line.split_once('=')?;
                        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
                    })
                };
                if !field("source")?.starts_with("registry+") {
                    return None;
                }
                Some((field("name")?, field("version")?))
            })
            .collect()
    }

    /// `$CARGO_HOME/registry/src/*` (one folder per registry index).
    fn registry_source_dirs() -> Vec<PathBuf> {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
        let Some(src) = cargo_home.map(|home| home.join("registry/src")) else {
            return Vec::new();
        };
        std::fs::read_dir(src)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default()
    }

    fn show((major, minor, patch): (u32, u32, u32)) -> String {
        format!("{major}.{minor}.{patch}")
    }

    #[test]
    fn versions_are_read_from_manifests_and_the_lock() {
        for (manifest, expected) in [
            (
                "[package]\nname = \"a\"\nrust-version = \"1.88\"\n",
                Some((1, 88, 0)),
            ),
            ("rust-version = \"1.70.1\"", Some((1, 70, 1))),
            ("rust-version = \"1\"", Some((1, 0, 0))),
            ("[package]\nname = \"a\"\n", None),
            ("rust-version = \"one\"", None),
        ] {
            assert_eq!(declared_rust_version(manifest), expected, "{manifest}");
        }
        let lock = "version = 4\n\n[[package]]\nname = \"agent\"\nversion = \"0.1.0\"\n\n\
                    [[package]]\nname = \"serde\"\nversion = \"1.0.1\"\n\
                    source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                    checksum = \"00\"\n\n\
                    [[package]]\nname = \"forked\"\nversion = \"0.2.0\"\n\
                    source = \"git+https://example.com/forked#00\"\n";
        assert_eq!(
            registry_packages(lock),
            [("serde".to_owned(), "1.0.1".to_owned())]
        );
    }

    /// The workspace's `rust-version` is at least what every locked dependency declares: with
    /// less, a toolchain that satisfies ours fails inside a dependency.
    #[test]
    fn the_workspace_rust_version_covers_every_locked_dependency() {
        let root = crate::workspace_root();
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("reading Cargo.lock");
        let manifest =
            std::fs::read_to_string(root.join("Cargo.toml")).expect("reading Cargo.toml");
        let ours = declared_rust_version(&manifest).expect("Cargo.toml declares a rust-version");
        let sources = registry_source_dirs();
        let mut highest: Option<((u32, u32, u32), String)> = None;
        let mut missing = Vec::new();
        let packages = registry_packages(&lock);
        for (name, version) in &packages {
            let Some(package_manifest) = sources.iter().find_map(|dir| {
                std::fs::read_to_string(dir.join(format!("{name}-{version}/Cargo.toml"))).ok()
            }) else {
                missing.push(format!("{name}-{version}"));
                continue;
            };
            if let Some(needed) = declared_rust_version(&package_manifest)
                && highest.as_ref().is_none_or(|(max, _)| needed > *max)
            {
                highest = Some((needed, format!("{name} {version}")));
            }
        }
        if !missing.is_empty() {
            // Sources are unpacked by a build (`cargo fetch` is enough); without them there is
            // nothing to compare with.
            eprintln!(
                "SKIPPED: {} of {} locked registry packages have no source under \
                 $CARGO_HOME/registry/src (e.g. {}): run `cargo fetch` to check rust-version",
                missing.len(),
                packages.len(),
                missing[0]
            );
            return;
        }
        let (needed, by) = highest.expect("some locked dependency declares a rust-version");
        eprintln!(
            "the locked dependencies need Rust {} ({by}); the workspace says {}",
            show(needed),
            show(ours)
        );
        assert!(
            ours >= needed,
            "Cargo.toml says rust-version {} but {by} needs {}: raise it",
            show(ours),
            show(needed)
        );
    }
}
