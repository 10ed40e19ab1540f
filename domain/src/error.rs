//! The one error type of the domain crate.

/// Why a domain value could not be constructed.
///
/// Every variant names the quantity or field that was wrong and the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A number was NaN or infinite.
    #[error("{quantity} must be a finite number, got {value}")]
    NonFinite {
        /// What the number was meant to be (e.g. "power kW").
        quantity: &'static str,
        /// The value that was given.
        value: f64,
    },
    /// A number lay outside its allowed range.
    #[error("{quantity} must be within [{min}, {max}], got {value}")]
    OutOfRange {
        /// What the number was meant to be.
        quantity: &'static str,
        /// The value that was given.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A hierarchy token (one segment of a path) was not NATS-token-safe.
    #[error("invalid path token {token:?}: {reason}")]
    InvalidToken {
        /// The offending token.
        token: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path had the wrong number of segments.
    #[error("path {path:?} has {found} segments, expected {expected}")]
    PathDepth {
        /// The offending path.
        path: String,
        /// How many segments it had.
        found: usize,
        /// How many were expected (as text, e.g. "5" or "0 to 5").
        expected: &'static str,
    },
    /// An interval whose end is not after its start.
    #[error("interval end {end} must be after its start {start}")]
    EmptyInterval {
        /// Start of the interval (RFC 3339).
        start: String,
        /// End of the interval (RFC 3339).
        end: String,
    },
    /// Two fields contradict each other (e.g. `soc_min > soc_max`).
    #[error("inconsistent {what}: {detail}")]
    Inconsistent {
        /// The value being built.
        what: &'static str,
        /// The contradiction, with the values involved.
        detail: String,
    },
    /// A text field was empty, too long or had forbidden characters.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidText {
        /// Which field.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
