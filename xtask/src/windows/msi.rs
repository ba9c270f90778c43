//! The agent's Windows Installer package, built on this Linux machine: msitools' `wixl` compiles
//! `agent/dist/windows/firstline-agent.wxs`, the few settings wixl 0.101 cannot express are set
//! in the database afterwards (`msibuild`), and the result gets its SHA-256. The install smoke
//! installs it with Wine's `msiexec`, looks for the files, the service and the shortcut, and
//! uninstalls it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{Wine, describe, run_with_deadline};

/// The package's source, relative to the workspace root.
pub const WXS: &str = "agent/dist/windows/firstline-agent.wxs";
/// The default config the package installs (as `agent.toml`).
const EXAMPLE_CONFIG: &str = "agent/agent.example.toml";

/// What wixl 0.101 (Debian bookworm) reads but cannot express, set in the built database: why,
/// the SQL that sets it, and the value to read back (a table, the row's key column and value,
/// the column, the value it must have).
struct Patch {
    why: &'static str,
    statements: Vec<String>,
    table: &'static str,
    row: (&'static str, &'static str),
    column: &'static str,
    value: &'static str,
}

fn patches(upgrade_code: &str, version: &str) -> Vec<Patch> {
    vec![
        Patch {
            why: "the default config is written only when there is none and stays on \
                  uninstall (64-bit 0x100 | NeverOverwrite 0x80 | Permanent 0x10)",
            statements: vec![
                "UPDATE `Component` SET `Attributes` = 400 WHERE `Component` = 'DefaultConfig'"
                    .to_owned(),
            ],
            table: "Component",
            row: ("Component", "DefaultConfig"),
            column: "Attributes",
            value: "400",
        },
        Patch {
            why: "\"Get IT help\" starts its console minimised, as help_entry.rs's \
                  WindowStyle 7: the help page is what the person sees",
            statements: vec![
                "UPDATE `Shortcut` SET `ShowCmd` = 7 WHERE `Shortcut` = 'GetItHelp'".to_owned(),
            ],
            table: "Shortcut",
            row: ("Shortcut", "GetItHelp"),
            column: "ShowCmd",
            value: "7",
        },
        // Attributes is part of the Upgrade table's key, which UPDATE cannot change: the row is
        // written again.
        Patch {
            why: "a rebuild of the same version replaces the installed one instead of \
                  installing beside it (VersionMax inclusive 0x200 | MigrateFeatures 0x1, as \
                  WiX's AllowSameVersionUpgrades)",
            statements: vec![
                "DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'".to_owned(),
                format!(
                    "INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, \
                     `ActionProperty`) VALUES ('{upgrade_code}', '{version}', 513, \
                     'WIX_UPGRADE_DETECTED')"
                ),
            ],
            table: "Upgrade",
            row: ("ActionProperty", "WIX_UPGRADE_DETECTED"),
            column: "Attributes",
            value: "513",
        },
    ]
}

/// `firstline-agent-<version>-x64.msi`.
pub fn file_name(version: &str) -> String {
    format!("firstline-agent-{version}-x64.msi")
}

/// The Windows Installer's ProductVersion: up to three numbers (major.minor.build, each at most
/// 255.255.65535); Cargo's pre-release and build suffixes have no place there.
fn product_version(version: &str) -> anyhow::Result<&str> {
    let parts: Vec<&str> = version.split('.').collect();
    let limits = [255u32, 255, 65535];
    let valid = (1..=3).contains(&parts.len())
        && parts.iter().zip(limits).all(|(part, limit)| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && part.parse::<u32>().is_ok_and(|n| n <= limit)
        });
    if !valid {
        bail!(
            "version {version:?} cannot be an MSI ProductVersion: it must be up to three numbers \
             (at most 255.255.65535), without a pre-release or build suffix"
        );
    }
    Ok(version)
}

/// Builds the package from `exe` into `out_dir/<file_name>` and returns its path.
pub fn build(root: &Path, exe: &Path, version: &str, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let version = product_version(version)?;
    let staging = out_dir.join("msi-staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    // wixl finds a File's Source in its working directory: the two files, by the names the
    // .wxs gives them.
    for (source, name) in [
        (exe.to_owned(), "firstline-agent.exe"),
        (root.join(EXAMPLE_CONFIG), "agent.toml"),
    ] {
        let destination = staging.join(name);
        std::fs::copy(&source, &destination).with_context(|| {
            format!("copying {} to {}", source.display(), destination.display())
        })?;
    }
    let msi = out_dir.join(file_name(version));
    let mut wixl = Command::new("wixl");
    wixl.current_dir(&staging)
        .args(["--arch", "x64", "--define"])
        .arg(format!("Version={version}"))
        .arg("--output")
        .arg(&msi)
        .arg(root.join(WXS));
    run_quietly(&mut wixl, "wixl")?;
    let properties = crate::capture(
        Command::new("msiinfo")
            .arg("export")
            .arg(&msi)
            .arg("Property"),
    )?;
    let upgrade_code = idt_value(&properties, ("Property", "UpgradeCode"), "Value")
        .with_context(|| format!("{} has no UpgradeCode property", msi.display()))?;
    let patches = patches(&upgrade_code, version);
    for patch in &patches {
        eprintln!(
            "  {}.{} = {}: {}",
            patch.table, patch.column, patch.value, patch.why
        );
        for statement in &patch.statements {
            run_quietly(
                Command::new("msibuild").arg(&msi).arg("-q").arg(statement),
                "msibuild",
            )?;
        }
    }
    // An UPDATE that matches no row succeeds silently: read each value back.
    for patch in &patches {
        let table = crate::capture(
            Command::new("msiinfo")
                .arg("export")
                .arg(&msi)
                .arg(patch.table),
        )?;
        let found = idt_value(&table, patch.row, patch.column);
        if found.as_deref() != Some(patch.value) {
            bail!(
                "{}: {}.{} of the row {} = {:?} is {found:?} after msibuild, not {}",
                msi.display(),
                patch.table,
                patch.column,
                patch.row.0,
                patch.row.1,
                patch.value
            );
        }
    }
    std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    let size = std::fs::metadata(&msi)
        .with_context(|| format!("reading {}", msi.display()))?
        .len();
    eprintln!("  built {} ({:.1} MB)", msi.display(), size as f64 / 1e6);
    Ok(msi)
}

/// Writes `<msi>.sha256` beside the package and puts its line into the folder's `SHA256SUMS`
/// (the file `cargo xtask dist` writes for the .debs), replacing an older line for the same name.
pub fn write_checksums(msi: &Path) -> anyhow::Result<()> {
    let line = crate::dist::sha256sums(&[msi.to_owned()])?;
    let name = msi
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let beside = msi.with_file_name(format!("{name}.sha256"));
    std::fs::write(&beside, &line).with_context(|| format!("writing {}", beside.display()))?;
    let sums = msi.with_file_name("SHA256SUMS");
    let existing = match std::fs::read_to_string(&sums) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", sums.display())),
    };
    std::fs::write(&sums, merge_sums(&existing, &line))
        .with_context(|| format!("writing {}", sums.display()))?;
    eprintln!("  {}  (also in {})", line.trim(), sums.display());
    Ok(())
}

/// `existing` SHA256SUMS lines with those naming the same files as `new` replaced by `new`.
fn merge_sums(existing: &str, new: &str) -> String {
    let name = |line: &str| line.split_once("  ").map(|(_, name)| name.to_owned());
    let replaced: Vec<String> = new.lines().filter_map(name).collect();
    let mut merged: String = existing
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| name(line).is_none_or(|name| !replaced.contains(&name)))
        .map(|line| format!("{line}\n"))
        .collect();
    merged.push_str(new);
    merged
}

/// Runs a tool, showing its output only when it fails (wixl and msibuild say nothing useful
/// when they work).
fn run_quietly(command: &mut Command, tool: &str) -> anyhow::Result<()> {
    eprintln!("  $ {}", describe(command));
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {tool} (from Debian's wixl and msitools packages)"))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            describe(command),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// One value of an exported table (`msiinfo export`: names, types, the table's name and keys,
/// then one tab-separated row a line): `column` of the first row whose `row.0` is `row.1`.
fn idt_value(idt: &str, row: (&str, &str), column: &str) -> Option<String> {
    let mut lines = idt.lines();
    let names: Vec<&str> = lines.next()?.split('\t').collect();
    let key = names.iter().position(|name| *name == row.0)?;
    let wanted = names.iter().position(|name| *name == column)?;
    lines
        .skip(2)
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .find(|values| values.get(key) == Some(&row.1))
        .map(|values| values.get(wanted).copied().unwrap_or_default().to_owned())
}

/// The service's name, as the .wxs (and the agent's `SERVICE_NAME`) has it.
const SERVICE_NAME: &str = "firstline-agent";
/// The command line `firstline-agent service install` registers for the default paths
/// (agent/src/service/windows_definition.rs; its tests check the .wxs against it).
const SERVICE_COMMAND_LINE: &str = r#""C:\Program Files\Firstline\firstline-agent.exe" run --config C:\ProgramData\Firstline\agent.toml --state-dir C:\ProgramData\Firstline\state"#;
/// The Start-menu shortcut's file.
const SHORTCUT_FILE: &str = "Get IT help.lnk";
/// How long one msiexec may take (installing starts the service and waits for it).
const MSIEXEC_DEADLINE: Duration = Duration::from_secs(300);

/// Installs the package under Wine (`msiexec /i … /qn`), checks what it installed, uninstalls
/// it (`msiexec /x … /qn`) and checks what is gone and what stays. `shim` is the ProcessPrng
/// `bcryptprimitives.dll` the installed exe needs under Wine 8 to start as a service.
pub fn install_smoke(
    root: &Path,
    wine: &Wine,
    prefix: &Path,
    msi: &Path,
    shim: &Path,
) -> anyhow::Result<()> {
    let drive_c = prefix.join("drive_c");
    let work = drive_c.join("firstline-msi");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    // The prefix has no Z: drive: msiexec sees the package only under C:.
    let package = work.join("firstline-agent.msi");
    std::fs::copy(msi, &package)
        .with_context(|| format!("copying {} to {}", msi.display(), package.display()))?;
    let install_dir = drive_c.join("Program Files/Firstline");
    let exe = install_dir.join("firstline-agent.exe");
    let config = drive_c.join("ProgramData/Firstline/agent.toml");
    // A config left by an earlier run (it is permanent) would hide whether this install wrote one.
    if config.exists() {
        std::fs::remove_file(&config).with_context(|| format!("removing {}", config.display()))?;
    }
    // The shim is not part of the package (Windows has ProcessPrng); it waits where the exe is
    // installed, as install_shim puts it beside every exe run under Wine.
    std::fs::create_dir_all(&install_dir)
        .with_context(|| format!("creating {}", install_dir.display()))?;
    super::install_shim(shim, &exe)?;

    let started = Instant::now();
    msiexec(wine, prefix, &work, "/i", "install.log")?;
    eprintln!("  msiexec /i: {:.1} s", started.elapsed().as_secs_f64());
    let installed = (|| -> anyhow::Result<()> {
        if !exe.is_file() {
            bail!("{} is not there", exe.display());
        }
        let written = std::fs::read_to_string(&config)
            .with_context(|| format!("the default config {} is not there", config.display()))?;
        let example = std::fs::read_to_string(root.join(EXAMPLE_CONFIG))
            .with_context(|| format!("reading {EXAMPLE_CONFIG}"))?;
        if written != example {
            bail!("{} is not {EXAMPLE_CONFIG}", config.display());
        }
        let service = service_registration(wine, prefix)?
            .context("the service's registry key is not there after installing")?;
        check_service(&service)?;
        let shortcut = find_shortcut(&drive_c)
            .with_context(|| format!("no {SHORTCUT_FILE} in any Start menu of the prefix"))?;
        eprintln!(
            "  installed: {}, {}, service {SERVICE_NAME} (ImagePath {:?}, Start 2), {}",
            exe.display(),
            config.display(),
            service
                .get("ImagePath")
                .map(String::as_str)
                .unwrap_or_default(),
            shortcut.display()
        );
        Ok(())
    })();
    if let Err(e) = installed {
        bail!(
            "{e:#}\nlast lines of the msiexec log:\n{}",
            log_tail(&work.join("install.log"))
        );
    }

    let started = Instant::now();
    msiexec(wine, prefix, &work, "/x", "uninstall.log")?;
    eprintln!("  msiexec /x: {:.1} s", started.elapsed().as_secs_f64());
    let removed = (|| -> anyhow::Result<()> {
        if exe.exists() {
            bail!("{} is still there after uninstalling", exe.display());
        }
        if service_registration(wine, prefix)?.is_some() {
            bail!("the service {SERVICE_NAME} is still registered after uninstalling");
        }
        if let Some(shortcut) = find_shortcut(&drive_c) {
            bail!("{} is still there after uninstalling", shortcut.display());
        }
        if !config.is_file() {
            bail!(
                "{} was removed: the config is the administrator's and must stay",
                config.display()
            );
        }
        eprintln!(
            "  uninstalled: the exe, the service and the shortcut are gone; {} stays",
            config.display()
        );
        Ok(())
    })();
    if let Err(e) = removed {
        bail!(
            "{e:#}\nlast lines of the msiexec log:\n{}",
            log_tail(&work.join("uninstall.log"))
        );
    }
    // The shim was ours, not the package's.
    let _ = std::fs::remove_file(install_dir.join("bcryptprimitives.dll"));
    let _ = std::fs::remove_dir(&install_dir);
    Ok(())
}

/// `msiexec ACTION C:\firstline-msi\firstline-agent.msi /qn /l*v C:\firstline-msi\LOG`; fails
/// with the log's tail.
fn msiexec(wine: &Wine, prefix: &Path, work: &Path, action: &str, log: &str) -> anyhow::Result<()> {
    let log_path = work.join(log);
    let _ = std::fs::remove_file(&log_path);
    let mut command = wine.command(prefix, "msiexec");
    command.args([
        action,
        r"C:\firstline-msi\firstline-agent.msi",
        "/qn",
        "/l*v",
        &format!(r"C:\firstline-msi\{log}"),
    ]);
    eprintln!("  $ {}", describe(&command));
    let output = run_with_deadline(&mut command, MSIEXEC_DEADLINE, Stdio::null(), false)?;
    // msiexec's exit code is a Windows error code; Linux keeps its low byte (1603 shows as 67).
    if !output.status.success() {
        bail!(
            "msiexec {action} failed ({}; 67 is 1603, a fatal error, 91 is 1627, an action failed)\n\
             last lines of {}:\n{}",
            output.status,
            log_path.display(),
            log_tail(&log_path)
        );
    }
    Ok(())
}

/// The service's values in the prefix's registry (`reg query`, live: a running service keeps
/// wineserver from writing system.reg), or None when the key is not there.
fn service_registration(
    wine: &Wine,
    prefix: &Path,
) -> anyhow::Result<Option<HashMap<String, String>>> {
    let key = format!(r"HKLM\System\CurrentControlSet\Services\{SERVICE_NAME}");
    let mut command = wine.command(prefix, "reg");
    command.args(["query", &key]);
    let output = run_with_deadline(&mut command, Duration::from_secs(60), Stdio::piped(), false)?;
    if !output.status.success() {
        return Ok(None);
    }
    Ok(Some(reg_query_values(&String::from_utf8_lossy(
        &output.stdout,
    ))))
}

/// Checks the registration against `service install`'s: the command line, automatic start,
/// LocalSystem. Wine 8's msi writes the exe's path without the quotes Windows Installer puts
/// around it, so the path is compared without them.
fn check_service(values: &HashMap<String, String>) -> anyhow::Result<()> {
    let image_path = values
        .get("ImagePath")
        .map(String::as_str)
        .unwrap_or_default();
    let unquoted = SERVICE_COMMAND_LINE.replacen('"', "", 2);
    if image_path != SERVICE_COMMAND_LINE && image_path != unquoted {
        bail!("ImagePath is {image_path:?}, not {SERVICE_COMMAND_LINE:?}");
    }
    for (name, expected) in [
        ("Start", "0x2"),
        ("Type", "0x10"),
        ("ObjectName", "LocalSystem"),
        ("DisplayName", "Firstline agent"),
    ] {
        let found = values.get(name).map(String::as_str);
        if found != Some(expected) {
            bail!("the service's {name} is {found:?}, not {expected:?}");
        }
    }
    Ok(())
}

/// `NAME    REG_TYPE    DATA` lines of `reg query KEY` (without its subkeys).
fn reg_query_values(output: &str) -> HashMap<String, String> {
    output
        .lines()
        .filter(|line| line.starts_with("    "))
        .filter_map(|line| {
            let mut fields = line.trim().splitn(3, "    ");
            let name = fields.next()?.trim();
            let kind = fields.next()?.trim();
            if !kind.starts_with("REG_") {
                return None;
            }
            let data = fields.next().unwrap_or_default().trim();
            Some((name.to_owned(), data.to_owned()))
        })
        .collect()
}

/// The shortcut in the all-users Start menu (where Windows puts a per-machine install's), or
/// in a user's (where Wine 8 resolves ProgramMenuFolder even for a per-machine install).
fn find_shortcut(drive_c: &Path) -> Option<PathBuf> {
    let programs = r"Microsoft/Windows/Start Menu/Programs";
    let mut candidates = vec![drive_c.join("ProgramData").join(programs)];
    if let Ok(users) = std::fs::read_dir(drive_c.join("users")) {
        for user in users.flatten() {
            candidates.push(user.path().join("AppData/Roaming").join(programs));
        }
    }
    candidates
        .into_iter()
        .map(|folder| folder.join(SHORTCUT_FILE))
        .find(|path| path.is_file())
}

/// The last lines of an msiexec log, which Wine writes as UTF-16 or 8-bit text.
fn log_tail(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return format!("({} was not written)", path.display());
    };
    let text = if bytes.starts_with(&[0xff, 0xfe]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_numbered_versions_become_product_versions() {
        for (version, valid) in [
            ("0.1.0", true),
            ("1.2", true),
            ("255.255.65535", true),
            ("256.0.0", false),
            ("1.2.3.4", false),
            ("0.1.0-beta.1", false),
            ("0.1.0+build", false),
            ("", false),
            ("1..2", false),
        ] {
            assert_eq!(product_version(version).is_ok(), valid, "{version:?}");
        }
    }

    #[test]
    fn a_value_is_read_back_from_an_exported_table() {
        let component = "Component\tComponentId\tDirectory_\tAttributes\tCondition\tKeyPath\n\
                         s72\tS38\ts72\ti2\tS255\tS72\n\
                         Component\tComponent\n\
                         AgentExe\t{CC97EB24}\tINSTALLDIR\t256\t\tFirstlineAgentExe\n\
                         DefaultConfig\t{ADDC9EAE}\tProgramDataFirstline\t400\t\tAgentToml\n";
        assert_eq!(
            idt_value(component, ("Component", "DefaultConfig"), "Attributes").as_deref(),
            Some("400")
        );
        assert_eq!(
            idt_value(component, ("Component", "AgentExe"), "Condition").as_deref(),
            Some("")
        );
        assert_eq!(
            idt_value(component, ("Component", "Missing"), "Attributes"),
            None
        );
        assert_eq!(
            idt_value(component, ("Component", "AgentExe"), "Nope"),
            None
        );
        // The names line is not a row, even when a value equals a column name.
        assert_eq!(
            idt_value(component, ("Component", "Component"), "KeyPath"),
            None
        );
    }

    #[test]
    fn a_new_checksum_replaces_the_old_line_for_the_same_file() {
        let existing = "aaa  firstline-agent_0.1.0_amd64.deb\nbbb  firstline-agent-0.1.0-x64.msi\n";
        let merged = merge_sums(existing, "ccc  firstline-agent-0.1.0-x64.msi\n");
        assert_eq!(
            merged,
            "aaa  firstline-agent_0.1.0_amd64.deb\nccc  firstline-agent-0.1.0-x64.msi\n"
        );
        assert_eq!(merge_sums("", "ccc  x.msi\n"), "ccc  x.msi\n");
    }

    #[test]
    fn reg_query_lines_become_values() {
        let output = "\r\nHKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\firstline-agent\r\n    \
                      Description    REG_SZ    Watches this computer's health\r\n    \
                      ImagePath    REG_EXPAND_SZ    C:\\Program Files\\Firstline\\firstline-agent.exe run --config C:\\x\r\n    \
                      Start    REG_DWORD    0x2\r\n    \
                      Empty    REG_SZ    \r\n\r\n\
                      HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\firstline-agent\\Security\r\n";
        let values = reg_query_values(output);
        assert_eq!(values["Start"], "0x2");
        assert_eq!(
            values["ImagePath"],
            r"C:\Program Files\Firstline\firstline-agent.exe run --config C:\x"
        );
        assert_eq!(values["Description"], "Watches this computer's health");
        assert_eq!(values["Empty"], "");
        assert_eq!(values.len(), 4);
    }

    #[test]
    fn the_service_check_takes_windows_quotes_or_wines_none_and_nothing_else() {
        let values = |image_path: &str| -> HashMap<String, String> {
            [
                ("ImagePath", image_path),
                ("Start", "0x2"),
                ("Type", "0x10"),
                ("ObjectName", "LocalSystem"),
                ("DisplayName", "Firstline agent"),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
        };
        assert!(check_service(&values(SERVICE_COMMAND_LINE)).is_ok());
        assert!(check_service(&values(&SERVICE_COMMAND_LINE.replace('"', ""))).is_ok());
        assert!(
            check_service(&values(
                r#""C:\Program Files\Firstline\firstline-agent.exe" run --config C:\elsewhere.toml --state-dir C:\ProgramData\Firstline\state"#
            ))
            .is_err()
        );
        let mut manual = values(SERVICE_COMMAND_LINE);
        manual.insert("Start".to_owned(), "0x3".to_owned());
        assert!(check_service(&manual).is_err());
    }
}
