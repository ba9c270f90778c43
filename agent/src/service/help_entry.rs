//! "Get IT help" in the menus of macOS and Windows, as data rendered here and tested on every
//! platform (as `launchd.rs` and `windows_definition.rs` are): a macOS app bundle that runs
//! `firstline-agent help`, and the PowerShell that makes the Windows Start-menu shortcut.
//! The names come from the Linux desktop entry (`agent/dist/firstline-help.desktop`), so the
//! three menus say the same thing in the same languages. Nothing installs them yet.

use std::path::{Path, PathBuf};

use firstline_i18n::Lang;

use super::ServiceError;

/// The desktop entry the .deb installs; the source of every menu's words.
const DESKTOP_ENTRY: &str = include_str!("../../dist/firstline-help.desktop");
/// The macOS bundle's identifier.
pub const BUNDLE_ID: &str = "com.firstline.help";
/// The folder of the app bundle (in /Applications).
pub const BUNDLE_FOLDER: &str = "Get IT help.app";
/// The launcher inside the bundle (`Contents/MacOS/…`).
const BUNDLE_EXECUTABLE: &str = "get-it-help";

/// One file of the app bundle: its path inside [`BUNDLE_FOLDER`], contents and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub path: PathBuf,
    pub contents: String,
    pub mode: u32,
}

/// `key` of the desktop entry in `lang` (the English value for English, or when missing).
pub fn entry_text(key: &str, lang: Lang) -> &'static str {
    let localized = match lang {
        Lang::En => None,
        Lang::Zh => Some(format!("{key}[zh_CN]")),
        Lang::Pl => Some(format!("{key}[pl]")),
        Lang::El => Some(format!("{key}[el]")),
    };
    let find = |wanted: &str| {
        DESKTOP_ENTRY
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| value)
    };
    localized
        .and_then(|key| find(&key))
        .or_else(|| find(key))
        .unwrap_or_default()
}

fn text(path: &Path) -> Result<&str, ServiceError> {
    path.to_str().ok_or_else(|| ServiceError::PathNotText {
        path: path.to_owned(),
    })
}

/// The macOS app bundle "Get IT help.app" that runs `BINARY help`: Info.plist, the launcher
/// and each language's name (`*.lproj/InfoPlist.strings`).
pub fn mac_app_bundle(binary: &Path) -> Result<Vec<BundleFile>, ServiceError> {
    let binary = text(binary)?;
    let name = escape_xml(entry_text("Name", Lang::En));
    let localizations: String = Lang::ALL
        .iter()
        .map(|lang| format!("\t\t<string>{}</string>\n", lproj(*lang)))
        .collect();
    let plist = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleIdentifier</key>
	<string>{BUNDLE_ID}</string>
	<key>CFBundleName</key>
	<string>{name}</string>
	<key>CFBundleDisplayName</key>
	<string>{name}</string>
	<key>CFBundleExecutable</key>
	<string>{BUNDLE_EXECUTABLE}</string>
	<key>CFBundlePackageType</key>
	<string>APPL</string>
	<key>CFBundleVersion</key>
	<string>{version}</string>
	<key>CFBundleShortVersionString</key>
	<string>{version}</string>
	<key>CFBundleDevelopmentRegion</key>
	<string>en</string>
	<key>CFBundleLocalizations</key>
	<array>
{localizations}	</array>
	<key>LSUIElement</key>
	<true/>
</dict>
</plist>
"#,
        version = crate::AGENT_VERSION,
    );
    let mut files = vec![
        BundleFile {
            path: PathBuf::from("Contents/Info.plist"),
            contents: plist,
            mode: 0o644,
        },
        BundleFile {
            path: PathBuf::from(format!("Contents/MacOS/{BUNDLE_EXECUTABLE}")),
            contents: format!("#!/bin/sh\nexec {} help\n", quote_sh(binary)),
            mode: 0o755,
        },
    ];
    for lang in Lang::ALL {
        let name = escape_strings(entry_text("Name", lang));
        files.push(BundleFile {
            path: PathBuf::from(format!(
                "Contents/Resources/{}.lproj/InfoPlist.strings",
                lproj(lang)
            )),
            contents: format!("CFBundleName = \"{name}\";\nCFBundleDisplayName = \"{name}\";\n"),
            mode: 0o644,
        });
    }
    Ok(files)
}

/// macOS's name for a language's resources.
fn lproj(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        Lang::Zh => "zh-Hans",
        Lang::Pl => "pl",
        Lang::El => "el",
    }
}

/// The PowerShell that makes "Get IT help" in every user's Start menu (run as administrator
/// by an installer): a shortcut to `BINARY help` in `%ProgramData%\…\Start Menu\Programs`,
/// named in `lang` (the installation's language).
pub fn windows_shortcut_script(binary: &Path, lang: Lang) -> Result<String, ServiceError> {
    let binary = text(binary)?;
    let name = entry_text("Name", lang);
    // A shortcut's file name cannot hold these.
    let file_name: String = name
        .chars()
        .map(|c| if r#"\/:*?"<>|"#.contains(c) { '-' } else { c })
        .collect();
    Ok(format!(
        "$programs = Join-Path $env:ProgramData 'Microsoft\\Windows\\Start Menu\\Programs'\n\
         $shortcut = (New-Object -ComObject WScript.Shell).CreateShortcut((Join-Path $programs {file}))\n\
         $shortcut.TargetPath = {binary}\n\
         $shortcut.Arguments = 'help'\n\
         $shortcut.Description = {description}\n\
         $shortcut.WindowStyle = 7\n\
         $shortcut.Save()\n",
        file = quote_powershell(&format!("{file_name}.lnk")),
        binary = quote_powershell(binary),
        description = quote_powershell(entry_text("Comment", lang)),
    ))
}

/// A POSIX shell word: single quotes, a quote inside written `'\''`.
fn quote_sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A PowerShell verbatim string: single quotes, a quote inside doubled (PowerShell also
/// takes the typographic quotes as quotes, so they are doubled too).
fn quote_powershell(text: &str) -> String {
    let mut quoted = String::from("'");
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            quoted.push(c);
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// Text for a `.strings` file's quoted value.
fn escape_strings(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_menu_says_get_it_help_in_every_language() {
        assert_eq!(entry_text("Name", Lang::En), "Get IT help");
        for lang in [Lang::Zh, Lang::Pl, Lang::El] {
            let name = entry_text("Name", lang);
            assert!(!name.is_empty() && name != "Get IT help", "{lang}: {name}");
            assert!(!entry_text("Comment", lang).is_empty());
        }
    }

    #[test]
    fn the_mac_app_runs_help_with_the_binary_quoted() {
        let files = mac_app_bundle(Path::new(
            "/Applications/Firstline/it's here/firstline-agent",
        ))
        .expect("bundle");
        let file = |path: &str| {
            files
                .iter()
                .find(|file| file.path == Path::new(path))
                .unwrap_or_else(|| panic!("no {path} in {files:?}"))
        };
        let plist = &file("Contents/Info.plist").contents;
        assert!(plist.contains("<key>CFBundleExecutable</key>\n\t<string>get-it-help</string>"));
        assert!(plist.contains(&format!("<string>{BUNDLE_ID}</string>")));
        assert!(plist.contains("<string>Get IT help</string>"));
        assert!(plist.contains("<string>zh-Hans</string>"));
        let launcher = file("Contents/MacOS/get-it-help");
        assert_eq!(launcher.mode, 0o755);
        assert_eq!(
            launcher.contents,
            "#!/bin/sh\nexec '/Applications/Firstline/it'\\''s here/firstline-agent' help\n"
        );
        let greek = &file("Contents/Resources/el.lproj/InfoPlist.strings").contents;
        assert!(greek.contains(&format!(
            "CFBundleDisplayName = \"{}\";",
            entry_text("Name", Lang::El)
        )));
        assert_eq!(files.len(), 2 + Lang::ALL.len());
    }

    #[test]
    fn the_windows_shortcut_runs_help_and_quotes_what_it_is_given() {
        let script = windows_shortcut_script(
            Path::new(r"C:\Program Files\Firstline\O'Brien\firstline-agent.exe"),
            Lang::Pl,
        )
        .expect("script");
        assert!(
            script.contains(
                r"$shortcut.TargetPath = 'C:\Program Files\Firstline\O''Brien\firstline-agent.exe'"
            ),
            "{script}"
        );
        assert!(script.contains("$shortcut.Arguments = 'help'"));
        assert!(script.contains(&format!(
            "(Join-Path $programs '{}.lnk')",
            entry_text("Name", Lang::Pl)
        )));
        assert!(script.contains("Start Menu\\Programs"));
        assert_eq!(quote_powershell("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
    }

    #[cfg(unix)]
    #[test]
    fn a_binary_path_that_is_not_text_is_refused_by_name() {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/opt/\xff/firstline-agent"));
        assert!(matches!(
            mac_app_bundle(path),
            Err(ServiceError::PathNotText { .. })
        ));
        assert!(windows_shortcut_script(path, Lang::En).is_err());
    }
}
