//! The one JSON encoder: every JSON document matbench writes (records, summaries, reports,
//! exports) goes through [`to_bytes`], pretty-printed with a final newline.

use crate::error::Error;
use serde::Serialize;

/// `value` as pretty-printed JSON with a final newline; `what` names it in the (bug) error.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T, what: &'static str) -> Result<Vec<u8>, Error> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Encode {
        what,
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_with_a_final_newline() {
        let bytes = to_bytes(&serde_json::json!({"a": [1, 2]}), "a test value").unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.ends_with("}\n") && text.contains("\n  \"a\""),
            "{text}"
        );
    }

    #[test]
    fn a_value_json_cannot_hold_is_an_internal_error() {
        let mut map = std::collections::BTreeMap::new();
        map.insert((1, 2), 3);
        let e = to_bytes(&map, "a map").unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::Internal);
        assert!(e.to_string().contains("a map"), "{e}");
    }
}
