//! `Secret`: a value that never shows itself.
//!
//! Tokens, keys and generated bundles travel through the model, plans and
//! state as `Secret`. `Debug` and `Display` print `(sensitive value)`;
//! `Serialize` writes `(sensitive value)` to every serializer but the one
//! that turns a typed spec into lab attributes ([`crate::value::encode`]),
//! which keeps it a [`crate::Value::Secret`], so a secret cannot end up in
//! JSON by accident; and the state store encrypts every secret with age
//! before it touches disk.

use std::fmt;
use std::sync::Arc;

/// A sensitive string: redacted in `Debug`, `Display`, plans and logs;
/// encrypted at rest.
///
/// ```
/// use lab_core::Secret;
/// let token = Secret::new("hunter2");
/// assert_eq!(format!("{token:?}"), "Secret((sensitive value))");
/// assert_eq!(token.to_string(), "(sensitive value)");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a sensitive value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into())
    }

    /// Reads a secret from an environment variable; `None` if it is unset.
    pub fn from_env(var: &str) -> Option<Self> {
        std::env::var(var).ok().map(Secret::new)
    }

    /// Identifies this value's allocation (shared by its clones), so a store
    /// can reuse the ciphertext of a secret it sealed before.
    pub(crate) fn allocation_id(&self) -> usize {
        Arc::as_ptr(&self.0) as *const u8 as usize
    }

    /// The plaintext. Call it only where the value goes to the API that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Secret {
    /// Compares in time independent of where the values first differ.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret((sensitive value))")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive value)")
    }
}

/// The newtype name by which [`crate::value`]'s serde glue recognises a
/// secret. Not a type anyone else uses.
pub(crate) const SECRET_TOKEN: &str = "$lab_core::Secret";

thread_local! {
    /// The secret being serialized, handed to the attribute serializer
    /// without passing its plaintext through serde.
    static STASH: std::cell::RefCell<Option<Secret>> = const { std::cell::RefCell::new(None) };
}

/// Takes the secret that [`Secret`]'s `Serialize::serialize` stashed
/// (attribute serializer only).
pub(crate) fn take_stashed() -> Option<Secret> {
    STASH.with(|s| s.borrow_mut().take())
}

impl serde::Serialize for Secret {
    /// Redacted for every serializer; [`crate::value::encode`] keeps the
    /// secret itself.
    ///
    /// ```
    /// use lab_core::Secret;
    /// let json = serde_json::to_string(&Secret::new("hunter2")).unwrap();
    /// assert_eq!(json, "\"(sensitive value)\"");
    /// ```
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        STASH.with(|s| *s.borrow_mut() = Some(self.clone()));
        let out = serializer.serialize_newtype_struct(SECRET_TOKEN, "(sensitive value)");
        STASH.with(|s| s.borrow_mut().take());
        out
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    /// From a [`crate::Value::Secret`] (or a plain string) in lab attributes.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret")
            }
            fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Secret, D::Error> {
                String::deserialize(d).map(Secret::new)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
        }
        use serde::Deserialize;
        deserializer.deserialize_newtype_struct(SECRET_TOKEN, V)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}
