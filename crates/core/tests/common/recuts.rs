//! Re-cuts of signed strings that concatenate `name + value` pairs without separators (Twilio
//! form bodies, Plivo V3), for the differential property tests of the provider test crates that
//! include this file: where a text can be cut back into pairs, and mutations chosen by kind and
//! by indices into the request.

use proptest::prelude::*;
use proptest::sample::Index;
use switchboard_core::CapturedRequest;

use crate::support::form_encode;

/// The concatenation of `pairs` and the offsets where each name and value starts.
pub fn layout(pairs: &[(String, String)]) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut cuts = Vec::new();
    for (name, value) in pairs {
        cuts.push(text.len());
        text.push_str(name);
        cuts.push(text.len());
        text.push_str(value);
    }
    (text, cuts)
}

/// `text` cut at `cuts` (name, value, name, value, …) back into pairs. Cuts may be out of order
/// or inside a character: those give no pairs.
pub fn pairs_at(text: &str, cuts: &[usize]) -> Option<Vec<(String, String)>> {
    let mut bounds = cuts.to_vec();
    bounds.push(text.len());
    if bounds.windows(2).any(|pair| pair[0] > pair[1]) || bounds.len().is_multiple_of(2) {
        return None;
    }
    let mut pairs = Vec::new();
    for index in (0..cuts.len()).step_by(2) {
        let name = text.get(bounds[index]..bounds[index + 1])?;
        let value = text.get(bounds[index + 1]..bounds[index + 2])?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    Some(pairs)
}

/// A mutation, chosen by kind and by indices into the request.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub kind: u8,
    pub first: Index,
    pub second: Index,
    pub third: Index,
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    (0_u8..16, any::<Index>(), any::<Index>(), any::<Index>()).prop_map(
        |(kind, first, second, third)| Mutation {
            kind,
            first,
            second,
            third,
        },
    )
}

pub fn with_form_body(request: &CapturedRequest, pairs: &[(String, String)]) -> CapturedRequest {
    let mut changed = request.clone().with_body(form_encode(pairs));
    changed.method = "POST".into();
    changed.set_header("content-type", "application/x-www-form-urlencoded");
    changed
}
