//! The phone case: normalising 100,000 mixed phone numbers to E.164 with
//! the domain's `normalize_phone`, in process and on one thread, as every
//! ResolveSender, import and contact write does for each phone it carries.
//! The mix covers eleven regions in national, `+`, `00` and WhatsApp
//! (bare digits) forms, with about one number in eight invalid.

use std::time::{Duration, Instant};

use crm_domain::identity::{PhoneInput, Region, normalize_phone};

/// How many numbers one round normalises.
pub const NUMBERS: usize = 100_000;

/// Rounds timed; the best is reported.
const ROUNDS: usize = 3;

/// How a number is written (`#` is a varying digit), the region it is read
/// in, and how bare digits are read.
const TEMPLATES: &[(&str, &str, PhoneInput)] = &[
    ("(201) 555-####", "US", PhoneInput::National),
    ("+1 650 253 ####", "GB", PhoneInput::National),
    ("1415555####", "US", PhoneInput::International),
    ("(11) 9612#-####", "BR", PhoneInput::National),
    ("+55 11 8765-####", "US", PhoneInput::National),
    ("55219876#####", "US", PhoneInput::International),
    ("(11) 2345-####", "BR", PhoneInput::National),
    ("07400 12####", "GB", PhoneInput::National),
    ("0044 121 234 ####", "US", PhoneInput::National),
    ("01512 345####", "DE", PhoneInput::National),
    ("+49 30 12####", "US", PhoneInput::National),
    ("06 12 34 ## ##", "FR", PhoneInput::National),
    ("+33 1 23 45 ## ##", "US", PhoneInput::National),
    ("081234 5####", "IN", PhoneInput::National),
    ("9174104#####", "US", PhoneInput::International),
    ("090-1234-####", "JP", PhoneInput::National),
    ("+81 120 12# ###", "US", PhoneInput::National),
    ("131 2345 ####", "CN", PhoneInput::National),
    ("+86 10 1234 ####", "US", PhoneInput::National),
    ("0812-345-6##", "ID", PhoneInput::National),
    ("+62 800 123####", "US", PhoneInput::National),
    ("0905 123 ####", "PH", PhoneInput::National),
    ("+63 2 3234 ####", "US", PhoneInput::National),
    ("222 123 ####", "MX", PhoneInput::National),
    // Invalid: a digit short or long in a strict range, an extension, garbage.
    ("+81 120 123 4###", "US", PhoneInput::National),
    ("+63 2 323 ####", "US", PhoneInput::National),
    ("(201) 555-#### ext. 12", "US", PhoneInput::National),
    ("call me ##", "US", PhoneInput::National),
];

/// What the case measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Normalisations per second, best round.
    pub rate: f64,
    /// Numbers accepted out of [`NUMBERS`].
    pub valid: usize,
}

/// Runs the case and prints its row.
pub fn run() -> Result<(), String> {
    let outcome = drive()?;
    println!(
        "\nNormalising {NUMBERS} mixed phone numbers (11 regions; national, +, 00 and WhatsApp forms), one thread:"
    );
    println!("{:>15} | {:>10} {:>8}", "call", "numbers/s", "valid");
    println!(
        "{:>15} | {:>10.0} {:>8}",
        "normalize_phone", outcome.rate, outcome.valid
    );
    Ok(())
}

/// Builds the inputs, then times [`ROUNDS`] rounds of normalising them all.
pub fn drive() -> Result<Outcome, String> {
    let inputs = inputs(NUMBERS)?;
    let mut best = Duration::MAX;
    let mut valid = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        valid = inputs
            .iter()
            .filter(|(text, region, mode)| {
                std::hint::black_box(normalize_phone(text, *region, *mode)).is_ok()
            })
            .count();
        best = best.min(started.elapsed());
    }
    Ok(Outcome {
        rate: NUMBERS as f64 / best.as_secs_f64().max(f64::EPSILON),
        valid,
    })
}

/// `count` inputs cycling through [`TEMPLATES`], each `#` a digit from a
/// fixed-seed generator, so every run measures the same numbers.
fn inputs(count: usize) -> Result<Vec<(String, Region, PhoneInput)>, String> {
    let regions = TEMPLATES
        .iter()
        .map(|(_, code, _)| Region::parse(code).map_err(|error| format!("region {code}: {error}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut digit = move || {
        // xorshift64: cheap, deterministic, good enough to vary digits.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        char::from(b'0' + (state % 10) as u8)
    };
    Ok((0..count)
        .map(|index| {
            let slot = index % TEMPLATES.len();
            let (pattern, _, mode) = TEMPLATES[slot];
            let text = pattern
                .chars()
                .map(|c| if c == '#' { digit() } else { c })
                .collect();
            (text, regions[slot], mode)
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_mostly_valid_with_some_invalid() {
        let inputs = inputs(TEMPLATES.len() * 40).unwrap();
        let valid = inputs
            .iter()
            .filter(|(text, region, mode)| normalize_phone(text, *region, *mode).is_ok())
            .count();
        // Four templates in 28 are invalid by construction; a varying digit
        // may still make an otherwise valid template invalid now and then.
        assert!(
            valid * 100 >= inputs.len() * 75,
            "{valid} of {}",
            inputs.len()
        );
        assert!(
            valid * 100 <= inputs.len() * 90,
            "{valid} of {}",
            inputs.len()
        );
    }

    #[test]
    fn every_template_is_used_and_the_inputs_repeat() {
        let first = inputs(TEMPLATES.len() * 2).unwrap();
        let second = inputs(TEMPLATES.len() * 2).unwrap();
        assert_eq!(first, second);
        assert_eq!(first[0].0.len(), TEMPLATES[0].0.len());
        assert_ne!(first[0].0, first[TEMPLATES.len()].0);
    }
}
