//! Words a message needs besides its template: times as people in Norway
//! read them, scopes in plain language, stand-ins for names we do not have,
//! and free text made safe to send.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Europe::Oslo;
use hms_domain::Language;

/// A time on the clock in Norway, as each language writes it.
pub fn local_time(at: DateTime<Utc>, language: Language) -> String {
    let local = at.with_timezone(&Oslo);
    let month = local.month0() as usize;
    match language {
        Language::Nb => format!(
            "{}. {} {} kl. {:02}.{:02}",
            local.day(),
            NB_MONTHS[month],
            local.year(),
            local.hour(),
            local.minute()
        ),
        Language::En => format!(
            "{} {} {} at {:02}:{:02} (Norwegian time)",
            local.day(),
            EN_MONTHS[month],
            local.year(),
            local.hour(),
            local.minute()
        ),
    }
}

const NB_MONTHS: [&str; 12] = [
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// What a scope lets its holder do, in plain words; an unknown scope as it
/// is spelled.
pub fn scope(scope: &str, language: Language) -> String {
    let words = match (scope, language) {
        ("cards:order", Language::Nb) => "bestille HMS-kort",
        ("cards:order", Language::En) => "order HMS cards",
        ("workers:read", Language::Nb) => "se arbeidstakerne og dokumentene deres",
        ("workers:read", Language::En) => "see the workers and their documents",
        ("company:contact:write", Language::Nb) => "endre kontaktopplysningene",
        ("company:contact:write", Language::En) => "change the contact details",
        ("access:manage", Language::Nb) => "gi og trekke tilbake tilgang",
        ("access:manage", Language::En) => "grant and revoke access",
        (other, _) => other,
    };
    words.to_owned()
}

/// Someone identity does not know (any more).
pub fn unknown_person(language: Language) -> &'static str {
    match language {
        Language::Nb => "en ukjent bruker",
        Language::En => "an unknown user",
    }
}

/// A person granted access without a name given.
pub fn unnamed_person(language: Language) -> &'static str {
    match language {
        Language::Nb => "en person uten oppgitt navn",
        Language::En => "a person whose name was not given",
    }
}

/// Free text someone typed (a name, a reason), as a message may carry it:
/// on one line, and with anything that looks like a national identity
/// number (eleven digits, perhaps split six and five) masked, in case it
/// was pasted where it does not belong.
pub fn tidy(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut index = 0;
    while index < words.len() {
        let split_number =
            index + 1 < words.len() && is_digits(words[index], 6) && is_digits(words[index + 1], 5);
        if split_number {
            out.push(MASK.to_owned());
            index += 2;
        } else {
            out.push(mask_numbers(words[index]));
            index += 1;
        }
    }
    out.join(" ")
}

/// At most `max` characters, cut with an ellipsis: names in a text message.
pub fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

const MASK: &str = "***********";

fn is_digits(word: &str, count: usize) -> bool {
    word.len() == count && word.bytes().all(|byte| byte.is_ascii_digit())
}

/// Every run of exactly eleven digits in `word`, masked.
fn mask_numbers(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 11 {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in word.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_on_the_norwegian_clock() {
        let winter = DateTime::parse_from_rfc3339("2026-12-01T23:30:00Z")
            .expect("a time")
            .to_utc();
        assert_eq!(
            local_time(winter, Language::Nb),
            "2. desember 2026 kl. 00.30"
        );
        let summer = DateTime::parse_from_rfc3339("2026-06-30T22:15:00Z")
            .expect("a time")
            .to_utc();
        assert_eq!(
            local_time(summer, Language::En),
            "1 July 2026 at 00:15 (Norwegian time)"
        );
    }

    #[test]
    fn numbers_pasted_into_free_text_are_masked() {
        assert_eq!(
            tidy("Feil bilde for 01019012345,\nsjekk 010190 12345 igjen"),
            "Feil bilde for ***********, sjekk *********** igjen"
        );
        // Phone numbers and organisation numbers stay.
        assert_eq!(
            tidy("Ring +4791234567 / 310100005"),
            "Ring +4791234567 / 310100005"
        );
        assert_eq!(short("Nordmann Bygg AS", 8), "Nordman…");
        assert_eq!(scope("cards:order", Language::En), "order HMS cards");
    }
}
