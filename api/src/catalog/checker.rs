//! The problems found in one entity document, field by field: what every validator (the envelope's and
//! each kind's) writes to.

/// One problem with one field of one entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects the problems of one document.
pub struct Checker {
    pub(super) errors: Vec<FieldError>,
}

impl Checker {
    pub fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}
