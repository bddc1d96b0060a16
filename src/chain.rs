//! Error chains for logs: an error with every source under it, so a 5xx or a failed background
//! write says why. A leaf module: every layer may log with it.

/// An error and its sources, `outer: inner: innermost`, for logs (never for clients).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::store::StoreError;

    #[test]
    fn a_5xx_is_logged_with_its_whole_cause_chain() {
        let e = Error::Store(StoreError::unavailable(
            "timed out waiting for the database",
        ));
        assert_eq!(
            Chain(&e).to_string(),
            "database unavailable: timed out waiting for the database"
        );
    }
}
