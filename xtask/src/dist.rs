//! `cargo xtask dist`: release binaries, one Debian package each for the agent and the
//! collector, and `SHA256SUMS`, in `target/dist/`. `--check` then installs each package into a
//! fresh root with dpkg, runs the installed binary, and removes and purges it again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// What goes into one package.
struct Package {
    name: &'static str,
    /// The Cargo package and binary.
    binary: &'static str,
    /// The profile used unless `--profile` says otherwise.
    default_profile: &'static str,
    summary: &'static str,
    description: &'static str,
    /// The systemd unit, relative to the workspace root.
    unit: &'static str,
    /// The example config, installed as `/etc/firstline/<config_name>` (a conffile).
    example_config: &'static str,
    config_name: &'static str,
    state_dir: &'static str,
    /// Extra files: (source relative to the workspace root, path in the package, mode).
    extra_files: &'static [(&'static str, &'static str, u32)],
}

const AGENT: Package = Package {
    name: "firstline-agent",
    binary: "firstline-agent",
    default_profile: "agent",
    summary: "Firstline agent: workstation health for the support desk",
    description: "Watches this computer's hardware, OS and network health, reproduces the faults\n \
                  users report, and streams findings over mutual TLS to a Firstline collector.",
    unit: "agent/dist/firstline-agent.service",
    example_config: "agent/agent.example.toml",
    config_name: "agent.toml",
    state_dir: "/var/lib/firstline-agent",
    // The desktop menu's "Get IT help" (runs `firstline-agent help`).
    extra_files: &[(
        "agent/dist/firstline-help.desktop",
        "usr/share/applications/firstline-help.desktop",
        0o644,
    )],
};

const COLLECTOR: Package = Package {
    name: "firstline-collector",
    binary: "firstline-collector",
    default_profile: "release",
    summary: "Firstline collector: enrollment, ingest, tickets and web UI",
    description: "Enrolls Firstline agents from its own certificate authority, stores their findings\n \
                  and turns them into a prioritised ticket queue for support staff.",
    unit: "collector/dist/firstline-collector.service",
    example_config: "collector/collector.example.toml",
    config_name: "collector.toml",
    state_dir: "/var/lib/firstline-collector",
    extra_files: &[(
        "collector/dist/firstline-collector.sysusers",
        "usr/lib/sysusers.d/firstline-collector.conf",
        0o644,
    )],
};

pub struct Dist {
    /// Overrides both packages' profiles (`dev` makes a quick, unoptimised package for tests).
    profile: Option<String>,
    check: bool,
}

impl Dist {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut dist = Dist {
            profile: None,
            check: false,
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            match argument.as_str() {
                "--check" => dist.check = true,
                "--profile" => {
                    let profile = arguments.next().context("--profile needs a profile name")?;
                    dist.profile = Some(profile.clone());
                }
                other => bail!("unknown dist option {other:?}"),
            }
        }
        Ok(dist)
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let root = crate::workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let dist_dir = target.join("dist");
        let version = env!("CARGO_PKG_VERSION");
        let architecture = dpkg_architecture()?;
        let packages = [AGENT, COLLECTOR];

        let mut binaries = Vec::new();
        for package in &packages {
            let profile = self.profile.as_deref().unwrap_or(package.default_profile);
            binaries.push(build(&root, &target, package, profile)?);
        }

        if dist_dir.exists() {
            std::fs::remove_dir_all(&dist_dir)
                .with_context(|| format!("removing {}", dist_dir.display()))?;
        }
        std::fs::create_dir_all(&dist_dir)
            .with_context(|| format!("creating {}", dist_dir.display()))?;
        let mut artifacts = Vec::new();
        let mut debs = Vec::new();
        for (package, binary) in packages.iter().zip(&binaries) {
            let copied = dist_dir.join(package.binary);
            std::fs::copy(binary, &copied)
                .with_context(|| format!("copying {} to {}", binary.display(), copied.display()))?;
            artifacts.push(copied);
            // xz (dpkg-deb's default) takes about a minute for an unoptimised 40 MB binary on
            // two cores; a dev package is for tests, so gzip's fastest level does.
            let compression: &[&str] = if self.profile.as_deref() == Some("dev") {
                &["-Zgzip", "-z1"]
            } else {
                &[]
            };
            let deb = build_deb(
                &root,
                &dist_dir,
                package,
                binary,
                (version, &architecture),
                compression,
            )?;
            eprintln!("built {}", deb.display());
            artifacts.push(deb.clone());
            debs.push(deb);
        }
        let sums = dist_dir.join("SHA256SUMS");
        std::fs::write(&sums, sha256sums(&artifacts)?)
            .with_context(|| format!("writing {}", sums.display()))?;
        eprintln!("wrote {}", sums.display());

        if self.check {
            check_sums(&dist_dir)?;
            for (package, deb) in packages.iter().zip(&debs) {
                check_deb(&dist_dir, package, deb, version)?;
            }
            println!("dist check passed: both packages install, run, remove and purge");
        }
        Ok(())
    }
}

/// `cargo build` of one binary; returns its path.
fn build(root: &Path, target: &Path, package: &Package, profile: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("building {} ({profile} profile) …", package.binary);
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--locked", "-p", package.binary])
        .args(["--profile", profile])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!(
            "cargo build -p {} --profile {profile} failed",
            package.binary
        );
    }
    // Cargo puts the dev profile's output in `debug`, every other profile's under its name.
    let folder = if profile == "dev" { "debug" } else { profile };
    Ok(target.join(folder).join(package.binary))
}

fn dpkg_architecture() -> anyhow::Result<String> {
    let output = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .context("running `dpkg --print-architecture` (dist builds Debian packages: it needs dpkg and dpkg-deb, as on Debian and Ubuntu)")?;
    if !output.status.success() {
        bail!("dpkg --print-architecture failed");
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Lays out the package's files and builds `<name>_<version>_<arch>.deb` with dpkg-deb.
fn build_deb(
    root: &Path,
    dist_dir: &Path,
    package: &Package,
    binary: &Path,
    (version, architecture): (&str, &str),
    compression: &[&str],
) -> anyhow::Result<PathBuf> {
    let staging = dist_dir.join("staging").join(package.name);
    let place = |source: &Path, destination: &str, mode: u32| -> anyhow::Result<()> {
        let destination = staging.join(destination);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(source, &destination).with_context(|| {
            format!("copying {} to {}", source.display(), destination.display())
        })?;
        set_mode(&destination, mode)
    };
    let write = |destination: &str, contents: &str, mode: u32| -> anyhow::Result<()> {
        let destination = staging.join(destination);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&destination, contents)
            .with_context(|| format!("writing {}", destination.display()))?;
        set_mode(&destination, mode)
    };

    place(binary, &format!("usr/bin/{}", package.binary), 0o755)?;
    place(
        &root.join(package.unit),
        &format!("lib/systemd/system/{}.service", package.name),
        0o644,
    )?;
    let config = format!("/etc/firstline/{}", package.config_name);
    place(&root.join(package.example_config), &config[1..], 0o644)?;
    for (source, destination, mode) in package.extra_files {
        place(&root.join(source), destination, *mode)?;
    }
    let docs = format!("usr/share/doc/{}", package.name);
    place(&root.join("README.md"), &format!("{docs}/README.md"), 0o644)?;
    write(
        &format!("{docs}/copyright"),
        &format!(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
             Upstream-Name: {}\n\nFiles: *\nCopyright: the Firstline authors\nLicense: Apache-2.0\n \
             On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n",
            package.name
        ),
        0o644,
    )?;

    let depends = shared_library_depends(binary)?;
    let installed_size_kib = directory_size(&staging)?.div_ceil(1024);
    write(
        "DEBIAN/control",
        &format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {architecture}\n\
             Maintainer: Firstline maintainers <firstline@example.com>\n\
             Installed-Size: {installed_size_kib}\nDepends: {depends}\nSection: admin\n\
             Priority: optional\nDescription: {summary}\n {description}\n",
            name = package.name,
            summary = package.summary,
            description = package.description,
        ),
        0o644,
    )?;
    write("DEBIAN/conffiles", &format!("{config}\n"), 0o644)?;
    let scripts = maintainer_scripts(package);
    write("DEBIAN/postinst", &scripts.postinst, 0o755)?;
    write("DEBIAN/prerm", &scripts.prerm, 0o755)?;
    write("DEBIAN/postrm", &scripts.postrm, 0o755)?;

    let deb = dist_dir.join(format!("{}_{version}_{architecture}.deb", package.name));
    let output = Command::new("dpkg-deb")
        .args(compression)
        .args(["--build", "--root-owner-group"])
        .arg(&staging)
        .arg(&deb)
        .output()
        .context("running dpkg-deb (install the dpkg package: dist builds Debian packages)")?;
    if !output.status.success() {
        bail!(
            "dpkg-deb --build {} failed: {}",
            staging.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(deb)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn directory_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_dir() {
            total += directory_size(&entry.path())?;
        } else {
            total += metadata.len();
        }
    }
    Ok(total)
}

/// `Depends:` from what the binary links: the C library at the newest GLIBC_ symbol version
/// it uses (so the package refuses a system too old to run it), and libgcc's unwinder if needed.
fn shared_library_depends(binary: &Path) -> anyhow::Result<String> {
    let objdump = |flag: &str| -> anyhow::Result<String> {
        let output = Command::new("objdump")
            .arg(flag)
            .arg(binary)
            .output()
            .context("running objdump (binutils) to find the C library version the binary needs")?;
        if !output.status.success() {
            bail!(
                "objdump {flag} {} failed: {}",
                binary.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let glibc = newest_glibc_version(&objdump("-T")?);
    let mut depends = vec![match glibc {
        Some(version) => format!("libc6 (>= {version})"),
        None => "libc6".to_owned(),
    }];
    for line in objdump("-p")?.lines() {
        let Some(library) = line.trim().strip_prefix("NEEDED") else {
            continue;
        };
        match library.trim() {
            "libc.so.6"
            | "libm.so.6"
            | "libpthread.so.0"
            | "libdl.so.2"
            | "librt.so.1"
            | "ld-linux-x86-64.so.2"
            | "ld-linux-aarch64.so.1" => {}
            "libgcc_s.so.1" => depends.push("libgcc-s1".to_owned()),
            other => bail!(
                "{} links {other}: add the Debian package that provides it to xtask/src/dist.rs",
                binary.display()
            ),
        }
    }
    Ok(depends.join(", "))
}

/// The highest `GLIBC_x.y[.z]` version among the symbol versions objdump lists.
fn newest_glibc_version(objdump_dynamic_symbols: &str) -> Option<String> {
    let mut newest: Option<Vec<u32>> = None;
    for (index, _) in objdump_dynamic_symbols.match_indices("GLIBC_") {
        let rest = &objdump_dynamic_symbols[index + "GLIBC_".len()..];
        let text: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Option<Vec<u32>> = text
            .split('.')
            .map(|part| part.parse::<u32>().ok())
            .collect();
        if let Some(parts) = parts.filter(|parts| parts.len() >= 2)
            && newest.as_ref().is_none_or(|current| parts > *current)
        {
            newest = Some(parts);
        }
    }
    newest.map(|parts| {
        parts
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    })
}

struct MaintainerScripts {
    postinst: String,
    prerm: String,
    postrm: String,
}

/// The scripts honour `$DPKG_ROOT` (an install into another root) and touch the running
/// systemd only when there is one and it is ours (`/run/systemd/system`, no `$DPKG_ROOT`), so
/// they work in containers, chroots and image builds.
fn maintainer_scripts(package: &Package) -> MaintainerScripts {
    let name = package.name;
    let state_dir = package.state_dir;
    let live = r#"[ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]"#;
    let enable = format!(
        r#"# Enabled by symlinks, which also works with no systemd running (images, chroots).
    if command -v systemctl >/dev/null 2>&1; then
        systemctl --root="${{DPKG_ROOT:-/}}" enable {name}.service >/dev/null 2>&1 \
            || echo "{name}: could not enable {name}.service; run: systemctl enable {name}" >&2
    fi"#
    );
    let start = if package.name == AGENT.name {
        format!(
            r#"    # An agent starts only once enrolled: until then it would only wait.
    if [ -f "$DPKG_ROOT{state_dir}/enrollment.toml" ]; then
        if {live}; then
            systemctl daemon-reload
            systemctl restart {name}.service
        fi
    else
        echo "{name}: not enrolled yet. Enrol it, then start it:"
        echo "  sudo firstline-agent enroll --collector https://COLLECTOR:7443 --token TOKEN --state-dir {state_dir}"
        echo "  sudo systemctl start {name}"
        if {live}; then
            systemctl daemon-reload
        fi
    fi"#
        )
    } else {
        format!(
            r#"    # The service runs as its own system user (usr/lib/sysusers.d/{name}.conf).
    if [ -z "$DPKG_ROOT" ]; then
        if command -v systemd-sysusers >/dev/null 2>&1; then
            systemd-sysusers {name}.conf
        elif ! getent passwd {name} >/dev/null; then
            adduser --system --group --home {state_dir} --no-create-home {name}
        fi
        # Secrets (database password, SMTP, webhook keys) go in the config: not world-readable.
        chgrp {name} /etc/firstline/{config} && chmod 0640 /etc/firstline/{config}
    fi
    if {live}; then
        systemctl daemon-reload
        systemctl restart {name}.service
        echo "{name}: running; the web UI and API listen on 127.0.0.1:7080, agents connect on :7443"
        echo "  create an enrollment token: sudo -u {name} firstline-collector token create --data-dir {state_dir}"
    fi"#,
            config = package.config_name
        )
    };
    let postinst = format!(
        r#"#!/bin/sh
# {name} postinst: reload systemd, enable the service, and start it when it can work.
set -e
if [ "$1" = "configure" ]; then
    {enable}
{start}
fi
exit 0
"#
    );
    let prerm = format!(
        r#"#!/bin/sh
# {name} prerm: stop the service before its files go.
set -e
if [ "$1" = "remove" ] && {live}; then
    systemctl stop {name}.service || true
fi
exit 0
"#
    );
    let postrm = format!(
        r#"#!/bin/sh
# {name} postrm: disable on removal; on purge also delete the state ({state_dir}).
set -e
if [ "$1" = "remove" ] || [ "$1" = "purge" ]; then
    if command -v systemctl >/dev/null 2>&1; then
        systemctl --root="${{DPKG_ROOT:-/}}" disable {name}.service >/dev/null 2>&1 || true
    fi
    if {live}; then
        systemctl daemon-reload || true
    fi
fi
if [ "$1" = "purge" ]; then
    rm -rf "$DPKG_ROOT{state_dir}"
    rmdir --ignore-fail-on-non-empty "$DPKG_ROOT/etc/firstline" 2>/dev/null || true
fi
exit 0
"#
    );
    MaintainerScripts {
        postinst,
        prerm,
        postrm,
    }
}

/// `SHA256SUMS` in the format `sha256sum -c` reads: the hex digest, two spaces, the name.
pub(crate) fn sha256sums(artifacts: &[PathBuf]) -> anyhow::Result<String> {
    let mut sums = String::new();
    for artifact in artifacts {
        let bytes =
            std::fs::read(artifact).with_context(|| format!("reading {}", artifact.display()))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let hex: String = digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let name = artifact
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(sums, "{hex}  {name}");
    }
    Ok(sums)
}

fn check_sums(dist_dir: &Path) -> anyhow::Result<()> {
    let output = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(dist_dir)
        .output()
        .context("running sha256sum --check")?;
    if !output.status.success() {
        bail!(
            "sha256sum --check SHA256SUMS failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn dpkg(root: &Path, arguments: &[&str], deb: Option<&Path>) -> anyhow::Result<String> {
    let mut command = Command::new("dpkg");
    command
        .arg(format!("--root={}", root.display()))
        // Run the maintainer scripts outside the root (it has no shell), with DPKG_ROOT set.
        .arg("--force-script-chrootless")
        // The fresh root has no libc6 package installed: dependencies cannot be met there.
        .arg("--force-depends")
        .args(arguments);
    if let Some(deb) = deb {
        command.arg(deb);
    }
    let output = command.output().context("running dpkg")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("dpkg {} failed:\n{text}", arguments.join(" "));
    }
    Ok(text)
}

/// Installs `deb` into a fresh root, runs the installed binary, checks the unit and conffile
/// landed, then removes (the conffile stays) and purges (everything goes) the package.
fn check_deb(dist_dir: &Path, package: &Package, deb: &Path, version: &str) -> anyhow::Result<()> {
    let root = dist_dir.join("check-root").join(package.name);
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    }
    for folder in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.join(folder))
            .with_context(|| format!("creating {}", root.join(folder).display()))?;
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "")?;

    let said = dpkg(&root, &["--install"], Some(deb))?;
    let binary = root.join("usr/bin").join(package.binary);
    let output = Command::new(&binary)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", binary.display()))?;
    let printed = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !printed.contains(version) {
        bail!(
            "{} --version printed {printed:?}, not version {version}",
            binary.display()
        );
    }
    let unit = root.join(format!("lib/systemd/system/{}.service", package.name));
    let config = root.join("etc/firstline").join(package.config_name);
    let extra: Vec<PathBuf> = package
        .extra_files
        .iter()
        .map(|(_, destination, _)| root.join(destination))
        .collect();
    for expected in [&unit, &config].into_iter().chain(&extra) {
        if !expected.is_file() {
            bail!("{} was not installed", expected.display());
        }
    }
    let conffiles = dpkg(&root, &["--status", package.name], None)?;
    if !conffiles.contains(&format!("/etc/firstline/{}", package.config_name)) {
        bail!(
            "dpkg does not list /etc/firstline/{} as a conffile:\n{conffiles}",
            package.config_name
        );
    }
    // Enabled even with no systemd running (the symlink `systemctl enable` makes), when the
    // checking machine has systemctl.
    let wanted = root.join(format!(
        "etc/systemd/system/multi-user.target.wants/{}.service",
        package.name
    ));
    let has_systemctl = Command::new("systemctl")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if has_systemctl && wanted.symlink_metadata().is_err() {
        bail!(
            "the postinst did not enable the unit ({} is missing)",
            wanted.display()
        );
    }
    if package.name == AGENT.name && !said.contains("not enrolled yet") {
        bail!("the agent's postinst did not say how to enrol:\n{said}");
    }

    // The state a running service would have left, for purge to remove.
    let state_dir = root.join(&package.state_dir[1..]);
    std::fs::create_dir_all(&state_dir)?;
    std::fs::write(state_dir.join("left-by-the-service"), "state")?;

    dpkg(&root, &["--remove", package.name], None)?;
    if binary.exists() || unit.exists() || wanted.symlink_metadata().is_ok() {
        bail!(
            "dpkg --remove left {} or {}",
            binary.display(),
            unit.display()
        );
    }
    if let Some(left) = extra.iter().find(|path| path.exists()) {
        bail!("dpkg --remove left {}", left.display());
    }
    if !config.exists() || !state_dir.exists() {
        bail!("dpkg --remove must keep the config and the state (only purge deletes them)");
    }
    dpkg(&root, &["--purge", package.name], None)?;
    if config.exists() || state_dir.exists() {
        bail!(
            "dpkg --purge left {} or {}",
            config.display(),
            state_dir.display()
        );
    }
    eprintln!(
        "checked {}: installs, runs --version, removes, purges",
        deb.display()
    );
    std::fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_glibc_symbol_version_is_the_minimum_libc() {
        let symbols = "0000 DF *UND* 0000 (GLIBC_2.2.5) malloc\n\
                       0000 DF *UND* 0000 (GLIBC_2.34) __libc_start_main\n\
                       0000 DF *UND* 0000 (GLIBC_2.9) pipe2\n\
                       0000 DF *UND* 0000 (GLIBC_PRIVATE) _dl_x\n";
        assert_eq!(newest_glibc_version(symbols).as_deref(), Some("2.34"));
        assert_eq!(newest_glibc_version("no versions"), None);
    }

    #[test]
    fn the_agent_starts_only_when_enrolled_and_scripts_honour_dpkg_root() {
        let scripts = maintainer_scripts(&AGENT);
        assert!(
            scripts
                .postinst
                .contains(r#"if [ -f "$DPKG_ROOT/var/lib/firstline-agent/enrollment.toml" ]"#)
        );
        assert!(
            scripts
                .postrm
                .contains(r#"rm -rf "$DPKG_ROOT/var/lib/firstline-agent""#)
        );
        for script in [&scripts.postinst, &scripts.prerm, &scripts.postrm] {
            assert!(
                script.starts_with("#!/bin/sh\nset -e\n") || script.starts_with("#!/bin/sh\n#")
            );
            // A running systemd is asked only when there is one and it is this root's.
            assert!(
                script.contains(r#"[ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]"#),
                "{script}"
            );
        }
        let collector = maintainer_scripts(&COLLECTOR);
        assert!(
            collector
                .postinst
                .contains("systemctl restart firstline-collector.service")
        );
    }
}
