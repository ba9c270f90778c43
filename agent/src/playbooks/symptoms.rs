//! From the user's own words to playbooks: a table of keywords per playbook in English,
//! Chinese, Polish and Greek, matched on lower-cased, accent-folded text. No match means the
//! general health playbook. A URL or host name in the text becomes the web playbook's target.

use super::Playbook;

/// Keywords per playbook. Lower case; Greek without accents (matching folds them). Chinese
/// has no spaces between words: see [`han_words`].
const TABLE: &[(Playbook, &[&str])] = &[
    (
        Playbook::Web,
        &[
            // English
            "can't open",
            "cannot open",
            "can not open",
            "won't open",
            "website",
            "web site",
            "intranet",
            "webpage",
            "web page",
            "browser",
            "http",
            "unreachable",
            "not loading",
            "won't load",
            "can't reach",
            "cannot reach",
            "portal",
            "server is down",
            "site is down",
            // Chinese
            "打不开网",
            "网站",
            "网页",
            "内网",
            "无法访问",
            "访问不了",
            "浏览器",
            // Polish
            "nie mogę otworzyć",
            "nie moge otworzyc",
            "strona",
            "stronę",
            "strony",
            "intranet",
            "przeglądar",
            "portal",
            // Greek (accents folded)
            "δεν ανοιγει",
            "ιστοσελιδα",
            "σελιδα",
            "δεν φορτωνει",
            "browser",
        ],
    ),
    (
        Playbook::Network,
        &[
            // English
            "no internet",
            "internet",
            "offline",
            "wifi",
            "wi-fi",
            "wireless",
            "vpn",
            "network",
            "can't connect",
            "cannot connect",
            "no connection",
            // Chinese
            "上不了网",
            "没网",
            "断网",
            "网络",
            "连不上",
            "无线",
            // Polish
            "internet",
            "sieć",
            "siec",
            "sieci",
            "nie łączy",
            "nie laczy",
            "brak połączenia",
            "brak polaczenia",
            "połączeni",
            // Greek (accents folded)
            "ιντερνετ",
            "διαδικτυο",
            "δικτυο",
            "ασυρματ",
            "δεν συνδεεται",
            "δεν εχω συνδεση",
        ],
    ),
    (
        Playbook::Slow,
        &[
            "slow",
            "sluggish",
            "freez",
            "frozen",
            "hangs",
            "lagging",
            "laggy",
            "takes forever",
            "fan is loud",
            "overheat",
            "hot",
            "慢",
            "很卡",
            "卡顿",
            "卡死",
            "死机",
            "反应迟钝",
            "wolno",
            "wolny",
            "wolna",
            "powoln",
            "zacina",
            "muli",
            "zamula",
            "przegrzew",
            "αργ",
            "κολλαει",
            "κολλησε",
            "βαραινει",
            "ζεσταινεται",
        ],
    ),
    (
        Playbook::Disk,
        &[
            "disk full",
            "disk is full",
            "can't save",
            "cannot save",
            "no space",
            "out of space",
            "storage full",
            "drive full",
            "not enough space",
            "磁盘满",
            "磁盘已满",
            "硬盘满",
            "空间不足",
            "无法保存",
            "保存不了",
            "存不了",
            "brak miejsca",
            "nie mogę zapisać",
            "nie moge zapisac",
            "dysk pełny",
            "pełny dysk",
            "zapełniony",
            "δεν εχει χωρο",
            "χωρος",
            "δεν αποθηκευει",
            "δεν μπορω να αποθηκευσω",
            "γεματος δισκος",
            "δισκος",
        ],
    ),
    (
        Playbook::Crash,
        &[
            "crash",
            "keeps closing",
            "closes by itself",
            "quit unexpectedly",
            "not responding",
            "stopped working",
            "keeps quitting",
            "崩溃",
            "闪退",
            "自动关闭",
            "未响应",
            "停止工作",
            "wysypuje",
            "zamyka się",
            "zamyka sie",
            "crashuje",
            "przestał działać",
            "przestal dzialac",
            "nie odpowiada",
            "κρασαρει",
            "κλεινει μονο",
            "κλεινει ξαφνικα",
            "σταματησε να λειτουργει",
            "δεν αποκρινεται",
        ],
    ),
    (
        Playbook::Printing,
        &[
            "print",
            "printer",
            "打印",
            "打印机",
            "drukark",
            "drukow",
            "wydruk",
            "εκτυπω",
            "εκτυπωτ",
        ],
    ),
    (
        Playbook::Email,
        &[
            "email",
            "e-mail",
            "mail",
            "outlook",
            "inbox",
            "thunderbird",
            "邮件",
            "邮箱",
            "收不到信",
            "发不了信",
            "poczt",
            "skrzynk",
            "mejl",
            "αλληλογραφ",
            "μειλ",
            "μηνυματα ηλεκτρονικου",
        ],
    ),
    (
        Playbook::Clock,
        &[
            "sign in",
            "sign-in",
            "log in",
            "login",
            "log on",
            "password",
            "clock",
            "wrong time",
            "time is wrong",
            "certificate error",
            "登录",
            "登陆",
            "密码",
            "时间不对",
            "时钟",
            "zalogować",
            "zalogowac",
            "logowani",
            "hasło",
            "haslo",
            "zegar",
            "zła godzina",
            "zla godzina",
            "συνδεθω",
            "συνδεση στο λογαριασμο",
            "κωδικ",
            "λαθος ωρα",
            "ρολοι",
        ],
    ),
];

/// What the user's words ask for: playbooks, most relevant first, and a target if one was
/// named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub playbooks: Vec<Playbook>,
    pub target: Option<String>,
}

/// Picks playbooks for `text`. A URL or host name always brings the web playbook; nothing
/// recognisable brings the general health playbook.
pub fn match_text(text: &str) -> Matched {
    let folded = fold(text);
    let han = han_words(&folded);
    let target = find_target(text);
    let mut scored: Vec<(usize, Playbook)> = TABLE
        .iter()
        .filter_map(|(playbook, keywords)| {
            let hits = keywords
                .iter()
                .filter(|keyword| {
                    let keyword = fold(keyword);
                    if keyword.chars().next().is_some_and(is_han) {
                        han.iter().any(|word| word.starts_with(&keyword))
                    } else {
                        contains_word(&folded, &keyword)
                    }
                })
                .count();
            (hits > 0).then_some((hits, *playbook))
        })
        .collect();
    if target.as_deref().is_some_and(looks_like_web_target)
        && !scored
            .iter()
            .any(|(_, playbook)| *playbook == Playbook::Web)
    {
        scored.push((1, Playbook::Web));
    }
    // Most keyword hits first; the table's order breaks ties.
    scored.sort_by_key(|(hits, playbook)| (std::cmp::Reverse(*hits), *playbook));
    let mut playbooks: Vec<Playbook> = scored.into_iter().map(|(_, playbook)| playbook).collect();
    // "I can't open the intranet" names no address to open: test the connection itself
    // (its configured names included) rather than ask which site.
    if target.is_none()
        && let Some(at) = playbooks.iter().position(|p| *p == Playbook::Web)
    {
        if playbooks.contains(&Playbook::Network) {
            playbooks.remove(at);
        } else {
            playbooks[at] = Playbook::Network;
        }
    }
    if playbooks.is_empty() {
        playbooks.push(Playbook::Health);
    }
    Matched { playbooks, target }
}

/// Whether `keyword` starts a word of `text`: "print" is in "printer" and "can't print", not in
/// "fingerprint"; "shop" is not in "Photoshop". Keywords are stems, so the word may go on
/// ("przeglądar" is "przeglądarka"). A keyword in Han characters starts one of
/// [`han_words`]: "打印" is in "打印机", "慢" is not in "傲慢" (arrogant).
pub(crate) fn contains_word(text: &str, keyword: &str) -> bool {
    if keyword.is_empty() {
        return false;
    }
    if keyword.chars().next().is_some_and(is_han) {
        return han_words(text).iter().any(|word| word.starts_with(keyword));
    }
    text.match_indices(keyword).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|before| !before.is_alphanumeric())
    })
}

/// Words that hold a symptom's characters but mean something else; as dictionary words they
/// keep those characters from being read as the symptom.
const NOT_SYMPTOMS: &[&str] = &[
    "傲慢",     // arrogant (慢: slow)
    "怠慢",     // to neglect someone
    "快慢",     // speed, "how fast"
    "神经网络", // a neural network (网络: network)
    "国内",     // domestic: "国内网站" is not "内网" (intranet)
];

/// Chinese is written without spaces between words, so each run of Han characters is cut into
/// words by forward longest match over a small dictionary: the Han keywords and
/// [`NOT_SYMPTOMS`]. At each character the longest dictionary word that starts there is one
/// word; a character no dictionary word starts with is a word of its own. A keyword then
/// matches a word it begins, as stems do in the other languages.
fn han_words(text: &str) -> Vec<&str> {
    let dictionary: Vec<&str> = TABLE
        .iter()
        .flat_map(|(_, keywords)| keywords.iter().copied())
        .filter(|keyword| keyword.chars().next().is_some_and(is_han))
        .chain(NOT_SYMPTOMS.iter().copied())
        .collect();
    let mut words = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !is_han(c) {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let length = dictionary
            .iter()
            .filter(|word| rest.starts_with(**word))
            .map(|word| word.len())
            .max()
            .unwrap_or(c.len_utf8());
        words.push(&rest[..length]);
        rest = &rest[length..];
    }
    words
}

/// CJK unified ideographs (and extension A): Chinese characters.
fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// Lower case, Greek accents and final sigma folded, curly apostrophes straightened.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'ά' => 'α',
            'έ' => 'ε',
            'ή' => 'η',
            'ί' | 'ϊ' | 'ΐ' => 'ι',
            'ό' => 'ο',
            'ύ' | 'ϋ' | 'ΰ' => 'υ',
            'ώ' => 'ω',
            'ς' => 'σ',
            '\u{2019}' | '\u{2018}' => '\'',
            other => other,
        })
        .collect()
}

/// A URL ("https://…", "http://…") or a host name with a dot ("intranet.example.com"), as
/// written.
fn find_target(text: &str) -> Option<String> {
    let words =
        text.split(|c: char| c.is_whitespace() || "\"'<>()[]{},;“”「」（），。".contains(c));
    let mut host = None;
    for word in words {
        let word = word.trim_end_matches(['.', '!', '?', ':', '。', '！', '？']);
        if word.starts_with("https://") || word.starts_with("http://") {
            return Some(word.to_owned());
        }
        if host.is_none() && is_host_name(word) {
            host = Some(word.to_owned());
        }
    }
    host
}

fn is_host_name(word: &str) -> bool {
    let labels: Vec<&str> = word.split('.').collect();
    labels.len() >= 2
        && word.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // "3.5" or "v1.2" are versions, not hosts: the last label has a letter.
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
        // File names ("report.docx") are not hosts either.
        && !labels.last().is_some_and(|tld| {
            ["exe", "docx", "doc", "xlsx", "xls", "pdf", "txt", "pptx", "zip", "dmp", "crash"]
                .contains(&tld.to_ascii_lowercase().as_str())
        })
}

fn looks_like_web_target(target: &str) -> bool {
    target.starts_with("https://") || target.starts_with("http://") || target.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use Playbook::*;

    /// Representative phrases per language, and the playbook that must come first. A site
    /// named without an address ("the intranet") tests the connection and its configured names.
    const PHRASES: &[(&str, &str, Playbook)] = &[
        ("en", "I can't open https://intranet.example.com/hr", Web),
        ("en", "The intranet is down again", Network),
        (
            "en",
            "My computer is so slow today, everything freezes",
            Slow,
        ),
        ("en", "Disk full, I can't save my presentation", Disk),
        (
            "en",
            "Outlook keeps crashing when I open the calendar",
            Crash,
        ),
        ("en", "The printer on the 2nd floor does nothing", Printing),
        ("en", "I don't get any new email", Email),
        ("en", "I can't log in, it says my password is wrong", Clock),
        ("zh", "我打不开内网网站", Network),
        ("zh", "电脑很卡，特别慢", Slow),
        ("zh", "磁盘已满，文件无法保存", Disk),
        ("zh", "软件一打开就闪退", Crash),
        ("zh", "打印机不能打印", Printing),
        ("zh", "收不到邮件", Email),
        ("zh", "无法登录，提示密码错误", Clock),
        ("pl", "Nie mogę otworzyć strony intranetu", Network),
        ("pl", "Komputer działa bardzo wolno i się zacina", Slow),
        ("pl", "Brak miejsca na dysku, nie mogę zapisać pliku", Disk),
        ("pl", "Program ciągle się wysypuje", Crash),
        ("pl", "Drukarka nie drukuje", Printing),
        ("pl", "Nie dostaję poczty", Email),
        ("pl", "Nie mogę się zalogować, hasło nie działa", Clock),
        ("el", "Δεν ανοίγει η ιστοσελίδα της εταιρείας", Network),
        ("el", "Ο υπολογιστής είναι πολύ αργός", Slow),
        (
            "el",
            "Δεν έχει χώρο ο δίσκος, δεν μπορώ να αποθηκεύσω",
            Disk,
        ),
        ("el", "Το πρόγραμμα κρασάρει συνέχεια", Crash),
        ("el", "Ο εκτυπωτής δεν εκτυπώνει", Printing),
        ("el", "Δεν λαμβάνω αλληλογραφία", Email),
        ("el", "Δεν μπορώ να συνδεθώ, λάθος κωδικός", Clock),
    ];

    #[test]
    fn phrases_in_four_languages_pick_the_right_playbook() {
        for (language, phrase, expected) in PHRASES {
            let matched = match_text(phrase);
            assert_eq!(
                matched.playbooks.first(),
                Some(expected),
                "[{language}] {phrase:?} → {:?}",
                matched.playbooks
            );
        }
    }

    #[test]
    fn keywords_match_whole_words_not_the_middle_of_others() {
        // The drill: "fingerprint" ran the printing playbook, "Photoshop" a shop's.
        for phrase in [
            "my fingerprint reader does not work",
            "the blueprint viewer is broken",
        ] {
            assert!(
                !match_text(phrase).playbooks.contains(&Printing),
                "{phrase:?} → {:?}",
                match_text(phrase).playbooks
            );
        }
        // Stems still reach the words that grow from them; Chinese matches inside a sentence.
        assert_eq!(
            match_text("the printer jams").playbooks.first(),
            Some(&Printing)
        );
        assert_eq!(
            match_text("I can't print").playbooks.first(),
            Some(&Printing)
        );
        assert_eq!(
            match_text("我的打印机坏了").playbooks.first(),
            Some(&Printing)
        );
        assert!(contains_word("przeglądarka nie działa", "przeglądar"));
        assert!(!contains_word("photoshop", "shop"));
        assert!(contains_word("shop", "shop"));
        assert!(!contains_word("anything", ""));
    }

    #[test]
    fn chinese_is_cut_into_words_by_longest_match() {
        assert_eq!(
            han_words("我打不开国内网站"),
            ["我", "打", "不", "开", "国内", "网站"]
        );
        assert_eq!(
            han_words("我的打印机坏了"),
            ["我", "的", "打印机", "坏", "了"]
        );
        // A keyword starts the word it grows into, not a word that only holds its characters.
        assert!(contains_word("我的打印机坏了", "打印"));
        assert!(!contains_word("他很傲慢", "慢"));
        assert!(!contains_word("神经网络训练", "网络"));
        assert!(contains_word("电脑特别慢", "慢"));
        assert!(!match_text("他对客户很傲慢").playbooks.contains(&Slow));
        assert!(!match_text("我在学神经网络").playbooks.contains(&Network));
    }

    #[test]
    fn the_connection_is_tested_without_an_address() {
        for phrase in [
            "no internet",
            "wifi is down",
            "VPN won't connect",
            "I can't open the intranet",
            "上不了网",
            "Nie mam internetu",
            "Το Wi-Fi δεν λειτουργεί",
        ] {
            let matched = match_text(phrase);
            assert_eq!(matched.playbooks.first(), Some(&Network), "{phrase:?}");
            assert!(!matched.playbooks.contains(&Web), "{phrase:?}");
        }
        let named = match_text("I can't open https://intranet.example.com/");
        assert_eq!(named.playbooks.first(), Some(&Web));
    }

    #[test]
    fn nothing_recognisable_runs_the_general_health_playbook() {
        for phrase in ["help", "它坏了", "coś nie tak", "κάτι δεν πάει καλά", ""]
        {
            assert_eq!(match_text(phrase).playbooks, [Health], "{phrase:?}");
        }
    }

    #[test]
    fn urls_and_host_names_become_the_web_target() {
        let cases = [
            (
                "I can't open https://intranet.example.com/hr.",
                Some("https://intranet.example.com/hr"),
            ),
            ("wiki.example.com is not loading", Some("wiki.example.com")),
            (
                "我打不开 http://portal.example.com 。",
                Some("http://portal.example.com"),
            ),
            ("Outlook 16.0 crashes on report.docx", None),
        ];
        for (text, expected) in cases {
            let matched = match_text(text);
            assert_eq!(matched.target.as_deref(), expected, "{text}");
            if expected.is_some() {
                assert!(matched.playbooks.contains(&Web), "{text}");
            }
        }
    }
}
