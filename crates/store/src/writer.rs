//! What a backend offers the code both backends share (projections): a
//! statement with `?N` parameters run on the open transaction, and the
//! values those parameters take. Each backend binds [`Value`] its own way.

/// A statement parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bool(bool),
}

/// Statements on one open transaction.
pub(crate) trait Writer {
    type Error;

    /// Runs `sql` (with `?1`, `?2`, ... parameters).
    fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<(), Self::Error>;

    /// The text in the first column of the one row `sql` returns.
    fn text(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<String, Self::Error>;
}

/// `value` as a statement parameter.
pub(crate) fn v<'a>(value: impl Into<Value<'a>>) -> Value<'a> {
    value.into()
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Value::Text(text)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Value::Text(text)
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<u32> for Value<'_> {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}

impl From<&u32> for Value<'_> {
    fn from(n: &u32) -> Self {
        Value::Int((*n).into())
    }
}

impl From<i32> for Value<'_> {
    fn from(n: i32) -> Self {
        Value::Int(n.into())
    }
}

impl From<f64> for Value<'_> {
    fn from(x: f64) -> Self {
        Value::Real(x)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&bool> for Value<'_> {
    fn from(b: &bool) -> Self {
        Value::Bool(*b)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(text: &'a Option<String>) -> Self {
        text.as_deref().map_or(Value::Null, Value::Text)
    }
}

impl From<&Option<i32>> for Value<'_> {
    fn from(n: &Option<i32>) -> Self {
        (*n).into()
    }
}
