//! A user's text, checked, and made safe and short for a message or a log
//! line; and a command's one error line.

/// How much of a bad value a message repeats.
pub const QUOTED_CHARS: usize = 40;

/// `text` in double quotes for a message: escaped, and cut after
/// [`QUOTED_CHARS`] characters, so a 5 MB value makes a short message.
pub fn quote(text: &str) -> String {
    let shown: String = text.chars().take(QUOTED_CHARS).collect();
    let more = if text.chars().count() > QUOTED_CHARS {
        "..."
    } else {
        ""
    };
    format!("\"{}\"{more}", printable(&shown))
}

/// `text` with its control characters escaped (`\u{1b}`), so that printing
/// it can never send a terminal an escape sequence.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// What is wrong with a piece of text a client sent, if anything, in a
/// message that names `field`: nothing but spaces, not UTF-8 (a body that
/// is not arrives with U+FFFD in place of the bad bytes), a control
/// character (tabs and line breaks are allowed where `lines` is true), or
/// more than `max_chars` characters. What WTForms' validators do for a form.
pub fn text_problem(field: &str, value: &str, max_chars: usize, lines: bool) -> Option<String> {
    let control = |c: char| c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t'));
    if value.trim().is_empty() {
        Some(format!("Please enter the {field}."))
    } else if value.contains('\u{FFFD}') {
        Some(format!("The {field} is not valid UTF-8 text."))
    } else if value.chars().any(control) {
        Some(format!("The {field} contains a control character."))
    } else if value.chars().count() > max_chars {
        Some(format!(
            "The {field} is longer than {max_chars} characters."
        ))
    } else {
        None
    }
}

/// A name as it is stored and compared: trimmed, and in Unicode's composed
/// form (NFC), so that "é" typed as "e" plus a combining accent is the same
/// name as "é" typed as one character.
pub fn normal_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.trim().nfc().collect()
}

/// A name as names are told apart: in Unicode's compatibility form (NFKC,
/// so fullwidth `ＢＯＢ`, the ligature `ﬁ` and mathematical bold letters are
/// the plain ones) and in lower case by Unicode's rules, with the two
/// folds lower case misses (`ß` is `ss`, a final `ς` is `σ`), so that ÉMILE,
/// Émile and émile are one name. SQLite's `NOCASE`, and PostgreSQL's
/// `lower()` under the C locale, fold A to Z only, so the steps store this
/// key beside the name, under a UNIQUE rule. Letters of other scripts that
/// only look alike (Cyrillic `а` and Latin `a`) stay apart. Only the first
/// thousand characters count, ten times what a name may hold, so a long
/// input costs no more work.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let start = name.trim().chars().take(1000);
    let lowered = start.nfkc().collect::<String>().to_lowercase();
    let folded = lowered.replace('ß', "ss").replace('ς', "σ");
    folded.nfkc().collect()
}

/// [`text_problem`] for a name, which must also hold no character a reader
/// cannot see: a name is how people tell each other apart.
pub fn name_problem(field: &str, value: &str, max_chars: usize) -> Option<String> {
    text_problem(field, value, max_chars, false).or_else(|| {
        let hidden = value.chars().find(|&c| is_unseen(c))?;
        let code = hidden as u32;
        Some(format!(
            "The {field} contains a character that cannot be seen (U+{code:04X})."
        ))
    })
}

/// Characters that show nothing, or reorder the text around them: format
/// characters (zero-width spaces and joiners, the bidirectional marks and
/// overrides, the byte-order mark, the soft hyphen), the blank "letters"
/// (Hangul fillers, the blank Braille pattern), variation selectors, and any
/// space but the plain one.
fn is_unseen(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
        || (c.is_whitespace() && c != ' ')
}

/// The exit status of a command, and its one line on stderr: success, or
/// `error: ...` with the message escaped (a path may hold an escape
/// sequence) and failure. Output into a closed pipe (`| head -1`) counts as
/// success: the reader has gone, which is no failure of the program's.
pub fn exit<E: std::error::Error + 'static>(result: Result<(), E>) -> std::process::ExitCode {
    let Err(err) = result else {
        return std::process::ExitCode::SUCCESS;
    };
    let mut cause: Option<&dyn std::error::Error> = Some(&err);
    while let Some(error) = cause {
        let io = error.downcast_ref::<std::io::Error>();
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return std::process::ExitCode::SUCCESS;
        }
        cause = error.source();
    }
    eprintln!("error: {}", printable(&err.to_string()));
    std::process::ExitCode::FAILURE
}
