//! An action's object input read by key with type checks, refusing (by name) the inputs the action does
//! not support, so a template asking for something an action does not do never appears to succeed.

use serde_json::Value;

use super::ActionError;

/// An action's input.
pub struct Inputs<'a> {
    pub input: &'a Value,
}

impl<'a> Inputs<'a> {
    /// `input`, which must be an object whose keys are all in `supported` (space-separated).
    pub fn new(action: &str, input: &'a Value, supported: &str) -> Result<Self, ActionError> {
        let object = input
            .as_object()
            .ok_or_else(|| ActionError::Input(format!("{action} takes an object input")))?;
        let unsupported: Vec<String> = object
            .keys()
            .filter(|k| !supported.split_whitespace().any(|s| s == k.as_str()))
            .map(|k| format!("input.{k}"))
            .collect();
        if !unsupported.is_empty() {
            return Err(ActionError::Input(format!(
                "{action} does not support {} (see the README for the inputs it takes)",
                unsupported.join(", ")
            )));
        }
        Ok(Self { input })
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ActionError> {
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ActionError::Input(format!("input.{key} must be a string"))),
        }
    }

    pub fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str, ActionError> {
        Ok(self.str(key)?.unwrap_or(default))
    }

    /// A required string.
    pub fn required(&self, key: &str) -> Result<&'a str, ActionError> {
        self.str(key)?
            .ok_or_else(|| ActionError::Input(format!("input.{key} is required (a string)")))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ActionError> {
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ActionError::Input(format!("input.{key} must be a boolean"))),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ActionError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ActionError> {
        let bad = || ActionError::Input(format!("input.{key} must be a list of strings"));
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// Refuses `key` when it is set to anything but `allowed` (an option taken only at its default).
    pub fn only(&self, action: &str, key: &str, allowed: &Value) -> Result<(), ActionError> {
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(()),
            Some(v) if v == allowed => Ok(()),
            Some(v) => Err(ActionError::Input(format!(
                "{action} does not support input.{key}: {v} (only {allowed})"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unsupported_and_mistyped_inputs_are_named() {
        let input = json!({"a": "x", "b": 1, "c": true, "z": 1});
        let err = Inputs::new("x:y", &input, "a b c")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("x:y does not support input.z (see the README for the inputs it takes)")
        );
        let input = json!({"a": "x", "b": 1, "c": true});
        let i = Inputs::new("x:y", &input, "a b c").unwrap();
        assert_eq!(i.str("a").unwrap(), Some("x"));
        assert!(i.str("b").is_err());
        assert!(!i.bool_or("d", false).unwrap());
        assert!(i.only("x:y", "c", &json!(false)).is_err());
        assert!(i.only("x:y", "c", &json!(true)).is_ok());
        assert!(i.required("d").is_err());
    }
}
