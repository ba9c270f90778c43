//! `cargo xtask windows [check|test|dist]`: the agent cross-built for Windows on this Linux
//! machine (MinGW's linker, std rebuilt from Debian's `rust-src`), linted, tested under Wine, and
//! packaged as an MSI (`msi.rs`).
//!
//! Everything it needs is installed on first use and reused after: two Debian packages through
//! the machine's apt, and the standard library's source through a private apt configuration in
//! `target/windows-toolchain/apt` (the machine's own sources are not touched). Each step says
//! what it does and how long it took.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod msi;

/// The Rust target: MinGW's ABI, so it links with Debian's cross GCC.
const TARGET: &str = "x86_64-pc-windows-gnu";
/// The cross linker (the `posix` threading flavour that Rust's `windows-gnu` std expects).
const LINKER: &str = "x86_64-w64-mingw32-gcc-posix";
/// Debian packages: the linker, and Wine to run what it links.
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("gcc-mingw-w64-x86-64-posix", "the MinGW linker"),
    ("wine64", "Wine, to run the Windows tests"),
    ("wixl", "wixl, to build the MSI"),
    (
        "msitools",
        "msibuild and msiinfo, to finish the MSI and read it back",
    ),
];
/// The Debian suite that ships `rust-src` at the versions rustup's stable channel has.
const RUST_SRC_SUITE: &str = "trixie-backports";
/// The source of ProcessPrng, which Wine 8 lacks and Rust's std needs.
const BCRYPTPRIMITIVES_C: &str = include_str!("../windows/bcryptprimitives.c");

/// Unit tests skipped under Wine, each with why. Wine is not Windows: these fail for want of
/// something Wine does not implement, not because of the agent.
const SKIPPED_UNDER_WINE: &[(&str, &str)] = &[
    (
        "acl::tests::a_restricted_folder_and_file_read_back_as_system_and_administrators_only",
        "Wine keeps no DACL on files: SetNamedSecurityInfoW succeeds, but the DACL read back \
         is made from the Unix mode bits (SYSTEM, the user, Everyone) whatever was set",
    ),
    (
        "report_pipe::tests::a_second_server_on_the_same_name_is_refused",
        "Wine 8 ignores FILE_FLAG_FIRST_PIPE_INSTANCE: a second first instance is created",
    ),
    (
        "uplink::reproduce::tests::a_help_page_report_queues_one_user_report_with_its_account_and_way_in",
        "it expects Linux's evidence (account and uid); on Windows a help-page report names the \
         account's SID instead (issue 13's pipe work), and the test has no Windows variant yet",
    ),
    (
        "inventory::tests::inventory_of_this_machine_is_plausible",
        "Wine lists no disks (sysinfo's disk list is empty in a prefix)",
    ),
    (
        "playbooks::tests::every_message_the_agent_says_is_in_the_catalogs",
        "it reads the agent's source folder by its Linux path, which the prefix does not \
         show (no Z: drive); it runs on Linux",
    ),
    (
        "service::launchd::tests::the_plist_is_a_property_list_launchd_can_read",
        "it checks the plist with Linux's /usr/bin/python3, which the prefix does not show \
         (no Z: drive); it runs on Linux",
    ),
];

/// The smoke's config: every check runs with its defaults (the CPU check too: its total comes
/// from GetSystemTimes on Windows, which Wine has, not from PDH counters, which it only stubs).
const SMOKE_CONFIG: &str = "\
# cargo xtask windows test: every check with its defaults.
";

/// The package's version: the workspace's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long one run under Wine may take before it is stopped (a hung Wine says nothing).
const WINE_DEADLINE: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Build the agent and run clippy for Windows.
    Check,
    /// Build the agent's unit tests for Windows and run them under Wine, then a smoke run.
    Test,
    /// Build the agent in the `agent` profile and package it as an MSI in target/dist.
    Dist,
}

pub struct Windows {
    mode: Mode,
}

impl Windows {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mode = match arguments.first().map(String::as_str) {
            None | Some("check") => Mode::Check,
            Some("test") => Mode::Test,
            Some("dist") => Mode::Dist,
            Some(other) => bail!("unknown windows task {other:?} (expected check, test or dist)"),
        };
        if let Some(extra) = arguments.get(1) {
            bail!(
                "unexpected argument {extra:?} after windows {}",
                arguments[0]
            );
        }
        Ok(Windows { mode })
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let root = crate::workspace_root();
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let toolchain_dir = target_dir.join("windows-toolchain");
        let mut steps = Steps::default();

        steps.run("install Debian packages", install_debian_packages)?;
        let library = steps.run("install the Rust standard library's source", || {
            install_rust_src(&root, &toolchain_dir)
        })?;
        let build = CrossBuild {
            root: root.clone(),
            library,
        };

        match self.mode {
            Mode::Check => {
                steps.run("build firstline-agent.exe", || build.agent_exe(&target_dir))?;
                steps.run("clippy for Windows (warnings are errors)", || {
                    build.clippy()
                })?;
            }
            Mode::Test => {
                let wine = Wine::find()?;
                let shim = steps.run("build the bcryptprimitives.dll shim", || {
                    build_bcryptprimitives(&toolchain_dir)
                })?;
                let prefix = target_dir.join("windows-wine");
                steps.run("prepare the Wine prefix", || wine.prepare_prefix(&prefix))?;
                let tests = steps.run("build the agent's unit tests", || build.unit_tests())?;
                steps.run("run the agent's unit tests under Wine", || {
                    for (name, why) in SKIPPED_UNDER_WINE {
                        eprintln!("  skipping {name} under Wine: {why}");
                    }
                    for test in &tests {
                        install_shim(&shim, test)?;
                        wine.run_tests(&prefix, test)?;
                    }
                    Ok(())
                })?;
                let exe =
                    steps.run("build firstline-agent.exe", || build.agent_exe(&target_dir))?;
                steps.run("smoke: firstline-agent.exe check --json", || {
                    install_shim(&shim, &exe)?;
                    wine.smoke_check(&prefix, &exe)
                })?;
                steps.run(
                    "smoke: enrolled under Wine against a Linux collector, checks become tickets",
                    || crate::windows_smoke::enrolled_run(&wine, &prefix, &exe, &target_dir),
                )?;
                let msi = steps.run("build the MSI (of the dev-profile exe)", || {
                    msi::build(&root, &exe, VERSION, &target_dir.join("windows-msi"))
                })?;
                steps.run(
                    "msi: install, check and uninstall with Wine's msiexec",
                    || msi::install_smoke(&root, &wine, &prefix, &msi, &shim),
                )?;
            }
            Mode::Dist => {
                let exe = steps.run("build firstline-agent.exe (agent profile)", || {
                    build.agent_exe_in_profile(&target_dir, "agent")
                })?;
                steps.run("build the MSI and its SHA-256", || {
                    let msi = msi::build(&root, &exe, VERSION, &target_dir.join("dist"))?;
                    msi::write_checksums(&msi)
                })?;
            }
        }
        steps.print_summary();
        Ok(())
    }
}

/// Runs named steps, saying when each starts and how long it took.
#[derive(Default)]
struct Steps(Vec<(&'static str, Duration)>);

impl Steps {
    fn run<T>(
        &mut self,
        name: &'static str,
        step: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        eprintln!("==> {name}");
        let started = Instant::now();
        let outcome = step().with_context(|| format!("step {name:?}"));
        let elapsed = started.elapsed();
        eprintln!(
            "==> {name}: {} in {:.1} s",
            if outcome.is_ok() { "done" } else { "failed" },
            elapsed.as_secs_f64()
        );
        self.0.push((name, elapsed));
        outcome
    }

    fn print_summary(&self) {
        eprintln!("\nwindows: every step passed");
        for (name, elapsed) in &self.0 {
            eprintln!("  {:>7.1} s  {name}", elapsed.as_secs_f64());
        }
        let total: Duration = self.0.iter().map(|(_, elapsed)| *elapsed).sum();
        eprintln!("  {:>7.1} s  total", total.as_secs_f64());
    }
}

/// Runs a command with its output shown; fails naming the command when it fails.
pub(crate) fn run_visibly(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("  $ {}", describe(command));
    let status = command
        .status()
        .with_context(|| format!("running {}", describe(command)))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(command));
    }
    Ok(())
}

/// A command as a person would type it, with the environment it sets.
pub(crate) fn describe(command: &Command) -> String {
    let mut words: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| {
            Some(format!(
                "{}={}",
                key.to_string_lossy(),
                value?.to_string_lossy()
            ))
        })
        .collect();
    words.push(command.get_program().to_string_lossy().into_owned());
    words.extend(
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| output.stdout.ends_with(b"install ok installed"))
}

fn install_debian_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .filter_map(|(package, why)| {
            if is_installed(package) {
                eprintln!("  {package} ({why}): installed");
                None
            } else {
                eprintln!("  {package} ({why}): missing, installing");
                Some(*package)
            }
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let apt_get = |arguments: &[&str]| {
        let mut command = Command::new("apt-get");
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-q", "-y", "--no-install-recommends"])
            .args(arguments);
        command
    };
    // The package lists may be missing or stale; update once and retry before giving up.
    if run_visibly(apt_get(&["install"]).args(&missing)).is_err() {
        run_visibly(&mut apt_get(&["update"]))?;
        run_visibly(apt_get(&["install"]).args(&missing)).with_context(|| {
            format!(
                "installing {} (as root, or install them by hand)",
                missing.join(" ")
            )
        })?;
    }
    Ok(())
}

/// `rustc --version`'s version number, e.g. `1.95.0`.
fn rustc_version(root: &Path) -> anyhow::Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = crate::capture(Command::new(&rustc).current_dir(root).arg("--version"))?;
    version
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .with_context(|| format!("cannot read a version from `{rustc} --version`: {version:?}"))
}

/// The library folder of a `rust-src` matching this rustc, downloaded and unpacked when missing.
fn install_rust_src(root: &Path, toolchain_dir: &Path) -> anyhow::Result<PathBuf> {
    let rustc = rustc_version(root)?;
    let unpacked = toolchain_dir.join("rust-src");
    let source = unpacked.join("usr/src").join(format!("rustc-{rustc}"));
    let library = source.join("library");
    let version_file = source.join("src/version");
    if library.is_dir() && read_trimmed(&version_file).as_deref() == Some(rustc.as_str()) {
        eprintln!(
            "  rust-src {rustc} (matches rustc {rustc}): already in {}",
            library.display()
        );
        return Ok(library);
    }

    // A private apt configuration: its own sources list, state and cache.
    let apt_dir = toolchain_dir.join("apt");
    for dir in [
        "etc/sources.list.d",
        "etc/preferences.d",
        "state/lists/partial",
        "cache/archives/partial",
    ] {
        let dir = apt_dir.join(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let sources = apt_dir.join("etc/sources.list");
    std::fs::write(
        &sources,
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
             http://deb.debian.org/debian {RUST_SRC_SUITE} main\n"
        ),
    )
    .with_context(|| format!("writing {}", sources.display()))?;
    let private_apt = |program: &str| {
        let mut command = Command::new(program);
        command.arg("-q");
        for (option, path) in [
            ("Dir::Etc::sourcelist", "etc/sources.list"),
            ("Dir::Etc::sourceparts", "etc/sources.list.d"),
            ("Dir::Etc::preferencesparts", "etc/preferences.d"),
            ("Dir::State", "state"),
            ("Dir::Cache", "cache"),
        ] {
            command
                .arg("-o")
                .arg(format!("{option}={}", apt_dir.join(path).display()));
        }
        // `apt-get download` writes into the current directory, which the _apt user may not
        // be allowed to; the download is verified against the signed lists either way.
        command.args(["-o", "APT::Sandbox::User=root"]);
        command
    };
    eprintln!(
        "  rust-src {rustc}: fetching {RUST_SRC_SUITE}'s package list (private apt configuration in {})",
        apt_dir.display()
    );
    run_visibly(private_apt("apt-get").arg("update"))?;
    let madison = crate::capture(private_apt("apt-cache").args(["madison", "rust-src"]))?;
    let versions: Vec<&str> = madison
        .lines()
        .filter_map(|line| line.split('|').nth(1).map(str::trim))
        .collect();
    let Some(debian_version) = versions
        .iter()
        .find(|version| upstream_version(version) == rustc)
    else {
        bail!(
            "rustc is {rustc} but Debian's {RUST_SRC_SUITE} has rust-src {}: none matches. \
             Install the Rust toolchain of one of those versions (rustup toolchain install …), \
             or give this machine a rust-src for {rustc}",
            versions.join(", ")
        );
    };
    eprintln!("  rust-src {rustc}: downloading Debian's {debian_version}");
    run_visibly(
        private_apt("apt-get")
            .current_dir(toolchain_dir)
            .arg("download")
            .arg(format!("rust-src={debian_version}")),
    )?;
    let deb = toolchain_dir.join(format!(
        "rust-src_{}_all.deb",
        debian_version.replace(':', "%3a")
    ));
    if unpacked.exists() {
        std::fs::remove_dir_all(&unpacked)
            .with_context(|| format!("removing {}", unpacked.display()))?;
    }
    run_visibly(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    std::fs::remove_file(&deb).with_context(|| format!("removing {}", deb.display()))?;
    let unpacked_version = read_trimmed(&version_file).unwrap_or_default();
    if unpacked_version != rustc || !library.is_dir() {
        bail!(
            "rust-src {debian_version} unpacked into {} says it is {unpacked_version:?}, \
             but rustc is {rustc}: they must be the same version",
            unpacked.display()
        );
    }
    eprintln!(
        "  rust-src {unpacked_version} matches rustc {rustc}: {}",
        library.display()
    );
    Ok(library)
}

/// `1.95.0` of Debian's `1.95.0+dfsg1-2~bpo13+1`.
fn upstream_version(debian_version: &str) -> &str {
    let without_epoch = debian_version
        .split_once(':')
        .map_or(debian_version, |(_, rest)| rest);
    without_epoch
        .split(['+', '-', '~'])
        .next()
        .unwrap_or(without_epoch)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
}

/// Cargo for the Windows target, with std rebuilt from the downloaded source.
struct CrossBuild {
    root: PathBuf,
    library: PathBuf,
}

impl CrossBuild {
    fn cargo(&self, subcommand: &str) -> Command {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = Command::new(cargo);
        command
            .current_dir(&self.root)
            // `-Zbuild-std` is unstable; the stable toolchain allows it with this.
            .env("RUSTC_BOOTSTRAP", "1")
            // Where `-Zbuild-std` finds the library's source (its default is the sysroot's
            // `lib/rustlib/src/rust/library`, which rustup's rust-src component would fill).
            .env("__CARGO_TESTS_ONLY_SRC_ROOT", &self.library)
            .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER", LINKER)
            .args([
                subcommand,
                "--locked",
                "-p",
                "firstline-agent",
                "--target",
                TARGET,
            ])
            .arg("-Zbuild-std=std,panic_abort");
        command
    }

    /// Builds `firstline-agent.exe` (dev profile) and returns its path.
    fn agent_exe(&self, target_dir: &Path) -> anyhow::Result<PathBuf> {
        run_visibly(&mut self.cargo("build"))?;
        let exe = target_dir.join(TARGET).join("debug/firstline-agent.exe");
        if !exe.is_file() {
            bail!("cargo build succeeded but {} is not there", exe.display());
        }
        Ok(exe)
    }

    /// Builds `firstline-agent.exe` in `profile` and returns its path (`-Zbuild-std` above
    /// already builds `panic_abort`, which the `agent` profile's `panic = "abort"` needs).
    fn agent_exe_in_profile(&self, target_dir: &Path, profile: &str) -> anyhow::Result<PathBuf> {
        run_visibly(self.cargo("build").args(["--profile", profile]))?;
        // Cargo puts the dev profile's output in `debug`, every other profile's under its name.
        let folder = if profile == "dev" { "debug" } else { profile };
        let exe = target_dir
            .join(TARGET)
            .join(folder)
            .join("firstline-agent.exe");
        if !exe.is_file() {
            bail!("cargo build succeeded but {} is not there", exe.display());
        }
        Ok(exe)
    }

    fn clippy(&self) -> anyhow::Result<()> {
        run_visibly(
            self.cargo("clippy")
                .args(["--all-targets", "--", "-D", "warnings"]),
        )
    }

    /// Builds the agent's unit test executables and returns their paths.
    fn unit_tests(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut command = self.cargo("test");
        command.args([
            "--lib",
            "--bins",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ]);
        eprintln!("  $ {}", describe(&command));
        let output = command
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", describe(&command)))?;
        if !output.status.success() {
            bail!("{} failed ({})", describe(&command), output.status);
        }
        let tests: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact" && message["profile"]["test"] == true
            })
            .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
            .collect();
        if tests.is_empty() {
            bail!("cargo test --no-run built no test executables for {TARGET}");
        }
        Ok(tests)
    }
}

/// Compiles the ProcessPrng shim (see `xtask/windows/bcryptprimitives.c`) unless it is current.
fn build_bcryptprimitives(toolchain_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = toolchain_dir.join("shim");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let source = dir.join("bcryptprimitives.c");
    let dll = dir.join("bcryptprimitives.dll");
    if read_trimmed(&source).as_deref() == Some(BCRYPTPRIMITIVES_C.trim()) && dll.is_file() {
        eprintln!("  {}: current", dll.display());
        return Ok(dll);
    }
    std::fs::write(&source, BCRYPTPRIMITIVES_C)
        .with_context(|| format!("writing {}", source.display()))?;
    run_visibly(
        Command::new("x86_64-w64-mingw32-gcc-posix")
            .args(["-shared", "-O2", "-s", "-o"])
            .arg(&dll)
            .arg(&source)
            .arg("-ladvapi32"),
    )?;
    Ok(dll)
}

/// Puts the shim beside an executable, where Windows' loader looks first.
fn install_shim(shim: &Path, exe: &Path) -> anyhow::Result<()> {
    let beside = exe
        .parent()
        .context("the executable has no folder")?
        .join("bcryptprimitives.dll");
    std::fs::copy(shim, &beside)
        .with_context(|| format!("copying {} to {}", shim.display(), beside.display()))?;
    Ok(())
}

#[derive(Clone)]
pub(crate) struct Wine {
    wine: PathBuf,
    wineserver: PathBuf,
}

impl Wine {
    /// Debian's `wine64` package puts its loader in /usr/lib/wine (the `wine` package adds the
    /// /usr/bin wrappers, which are not needed).
    fn find() -> anyhow::Result<Self> {
        let first = |names: &[&str]| names.iter().map(PathBuf::from).find(|path| path.is_file());
        let wine = first(&["/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine"])
            .context("no wine64 found (is the wine64 package installed?)")?;
        let wineserver = first(&[
            "/usr/lib/wine/wineserver64",
            "/usr/lib/wine/wineserver",
            "/usr/bin/wineserver",
        ])
        .context("no wineserver found (is the wine64 package installed?)")?;
        Ok(Wine { wine, wineserver })
    }

    pub(crate) fn command(&self, prefix: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(&self.wine);
        command
            .env("WINEPREFIX", prefix)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko installer prompts; the shim beside the exe wins over any builtin.
            // A crash ends the process with its exception code instead of starting winedbg.
            .env(
                "WINEDLLOVERRIDES",
                "mscoree,mshtml=;bcryptprimitives=n,b;winedbg.exe=d",
            )
            .arg(program)
            // C:\ (Wine's default would be the Linux working directory, on the removed Z:).
            .current_dir(prefix.join("drive_c"));
        command
    }

    /// Creates the prefix once, and removes its `Z:` drive (the whole Linux file system) every
    /// time, so that nothing a test or a probe sees comes from Linux.
    fn prepare_prefix(&self, prefix: &Path) -> anyhow::Result<()> {
        if prefix.join("system.reg").is_file() {
            eprintln!("  {}: exists", prefix.display());
        } else {
            eprintln!("  creating {} (wineboot -i, about 10 s)", prefix.display());
            std::fs::create_dir_all(prefix)
                .with_context(|| format!("creating {}", prefix.display()))?;
            let mut wineboot = self.command(prefix, "wineboot");
            wineboot
                // C:\ is what wineboot creates: until then, the prefix itself.
                .current_dir(prefix)
                .arg("-i")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            run_visibly(&mut wineboot)?;
        }
        // Let the prefix's registry reach disk before it is used or changed.
        run_visibly(
            Command::new(&self.wineserver)
                .env("WINEPREFIX", prefix)
                .arg("-w"),
        )?;
        let z_drive = prefix.join("dosdevices/z:");
        if z_drive.symlink_metadata().is_ok() {
            std::fs::remove_file(&z_drive)
                .with_context(|| format!("removing {}", z_drive.display()))?;
            eprintln!("  removed the Z: drive ({})", z_drive.display());
        } else {
            eprintln!("  no Z: drive");
        }
        Ok(())
    }

    /// Stops every Wine process of the prefix (`wineserver -k`), whatever state they are in.
    pub(crate) fn kill_server(&self, prefix: &Path) {
        let _ = Command::new(&self.wineserver)
            .env("WINEPREFIX", prefix)
            .arg("-k")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn run_tests(&self, prefix: &Path, test: &Path) -> anyhow::Result<()> {
        let mut command = self.command(prefix, test);
        for (name, _) in SKIPPED_UNDER_WINE {
            command.args(["--skip", name]);
        }
        // Skips name whole tests, not every test whose name contains them.
        command.arg("--exact");
        eprintln!("  $ {}", describe(&command));
        let output = run_with_deadline(&mut command, WINE_DEADLINE, Stdio::piped(), true)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        // A process killed by an unimplemented function can leave a success status behind:
        // only libtest's own verdict counts.
        let passed = stdout
            .lines()
            .any(|line| line.starts_with("test result: ok."));
        if !output.status.success() || !passed {
            bail!(
                "{} failed under Wine ({}{})",
                test.display(),
                output.status,
                if passed {
                    ""
                } else {
                    ", no passing test result"
                }
            );
        }
        Ok(())
    }

    fn smoke_check(&self, prefix: &Path, exe: &Path) -> anyhow::Result<()> {
        let smoke_dir = prefix.join("drive_c/firstline-smoke");
        std::fs::create_dir_all(&smoke_dir)
            .with_context(|| format!("creating {}", smoke_dir.display()))?;
        let config = smoke_dir.join("agent.toml");
        std::fs::write(&config, SMOKE_CONFIG)
            .with_context(|| format!("writing {}", config.display()))?;
        let mut command = self.command(prefix, exe);
        command.args([
            "check",
            "--json",
            "--config",
            r"C:\firstline-smoke\agent.toml",
        ]);
        eprintln!("  $ {}", describe(&command));
        let output = run_with_deadline(&mut command, WINE_DEADLINE, Stdio::piped(), false)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let json: serde_json::Value = serde_json::from_str(&stdout).with_context(|| {
            format!(
                "firstline-agent.exe check --json ({}) printed no JSON:\n{stdout}",
                output.status
            )
        })?;
        eprintln!("{}", serde_json::to_string_pretty(&json)?);
        eprintln!(
            "  firstline-agent.exe check --json printed JSON ({} bytes; {})",
            stdout.len(),
            output.status
        );
        Ok(())
    }
}

/// Runs a command, stopping it at the deadline; stderr is shown, and stdout too when `show`
/// (line by line as it comes) or when it is not captured.
pub(crate) fn run_with_deadline(
    command: &mut Command,
    deadline: Duration,
    stdout: Stdio,
    show: bool,
) -> anyhow::Result<std::process::Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", describe(command)))?;
    let reader = child.stdout.take().map(|pipe| {
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut bytes = Vec::new();
            let mut pipe = std::io::BufReader::new(pipe);
            loop {
                let start = bytes.len();
                match pipe.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if show => eprint!("{}", String::from_utf8_lossy(&bytes[start..])),
                    Ok(_) => {}
                }
            }
            bytes
        })
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} did not finish within {deadline:?}", describe(command));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = reader
        .map(|reader| reader.join().unwrap_or_default())
        .unwrap_or_default();
    Ok(std::process::Output {
        status,
        stdout,
        stderr: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::upstream_version;

    #[test]
    fn debian_versions_compare_by_their_upstream_part() {
        for (debian, upstream) in [
            ("1.95.0+dfsg1-2~bpo13+1", "1.95.0"),
            ("1.97.1+dfsg1-1~bpo13+1", "1.97.1"),
            ("1:1.95.0-1", "1.95.0"),
            ("1.95.0", "1.95.0"),
        ] {
            assert_eq!(upstream_version(debian), upstream, "{debian}");
        }
    }
}
