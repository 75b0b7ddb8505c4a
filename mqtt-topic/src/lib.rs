//! MQTT topic names and filters, wildcard matching and shared subscriptions (section 4.7 of
//! MQTT 3.1.1 and 5.0, section 4.8.2 of MQTT 5.0).
//!
//! - [`TopicName`] and [`TopicFilter`] wrap an [`mqtt_codec::MqttString`], validated once on
//!   construction and never copied: a topic decoded from a packet keeps sharing its buffer.
//! - [`SharedSubscription::parse`] splits `$share/{ShareName}/{filter}` into two slices of the
//!   subscribed string.
//! - [`filter_matches`] is the reference matcher, one filter against one name, level by level.
//! - Every refusal is a [`TopicError`] citing the rule it breaks, with the MQTT 5 reason code
//!   a server answers it with.
//!
//! ```
//! use mqtt_codec::{MqttString, ReasonCode};
//! use mqtt_topic::{filter_matches, TopicError, TopicFilter, TopicName};
//!
//! // A topic name decoded from a PUBLISH, wrapped without copying.
//! let name = TopicName::new(MqttString::from_static("sport/tennis/player1"))?;
//! // A topic filter built from application input (copied once into a new buffer).
//! let filter = TopicFilter::try_from("sport/+/player1")?;
//! assert!(filter_matches(&filter, &name));
//! assert!(filter_matches(&TopicFilter::from_static("sport/#"), &name));
//!
//! // `+` must occupy a whole level: a server answers this SUBSCRIBE with 0x8F.
//! let refused = TopicFilter::try_from("sport+").unwrap_err();
//! assert_eq!(refused, TopicError::InvalidSingleLevelWildcard);
//! assert_eq!(refused.reason_code(), ReasonCode::TopicFilterInvalid);
//!
//! // Wildcards at the start of a filter never match `$` topics [MQTT-4.7.2-1].
//! let uptime = TopicName::from_static("$SYS/broker/uptime");
//! assert!(!filter_matches(&TopicFilter::from_static("#"), &uptime));
//! assert!(filter_matches(&TopicFilter::from_static("$SYS/#"), &uptime));
//! # Ok::<(), TopicError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The accessors, conversions and trait impls [`TopicName`] and [`TopicFilter`] share: both
/// are a validated [`MqttString`](mqtt_codec::MqttString) behind a `new` constructor.
macro_rules! topic_string_impls {
    ($ty:ident, $what:literal, $example:literal) => {
        impl $ty {
            /// The string slice.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The validated [`MqttString`], sharing its buffer.
            pub fn as_mqtt_string(&self) -> &MqttString {
                &self.0
            }

            /// The validated [`MqttString`].
            pub fn into_inner(self) -> MqttString {
                self.0
            }

            #[doc = concat!("The levels of ", $what, ", split on `/`. Empty levels are")]
            /// included: adjacent separators mean a zero-length level (section 4.7.1.1), and a
            /// leading or trailing `/` adds an empty first or last level.
            ///
            /// ```
            #[doc = concat!("use mqtt_topic::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let topic = ", stringify!($ty), "::from_static(\"", $example, "\");")]
            #[doc = concat!("let expected: Vec<&str> = \"", $example, "\".split('/').collect();")]
            /// assert_eq!(topic.levels().collect::<Vec<_>>(), expected);
            #[doc = concat!("let topic = ", stringify!($ty), "::from_static(\"/a//\");")]
            /// assert_eq!(topic.levels().collect::<Vec<_>>(), ["", "a", "", ""]);
            /// ```
            pub fn levels(&self) -> impl DoubleEndedIterator<Item = &str> + Clone {
                self.0.as_str().split('/')
            }

            /// Whether the first character is `$`: such topics (`$SYS/...`) are never matched
            /// by a filter starting with a wildcard [MQTT-4.7.2-1].
            ///
            /// ```
            #[doc = concat!("use mqtt_topic::", stringify!($ty), ";")]
            ///
            #[doc = concat!("assert!(", stringify!($ty), "::from_static(\"$SYS/uptime\").is_dollar());")]
            #[doc = concat!("assert!(!", stringify!($ty), "::from_static(\"a/$b\").is_dollar());")]
            /// ```
            pub fn is_dollar(&self) -> bool {
                self.0.as_bytes().first() == Some(&b'$')
            }
        }

        impl TryFrom<MqttString> for $ty {
            type Error = TopicError;
            /// The same as `new`: no copy.
            fn try_from(s: MqttString) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl TryFrom<bytes::Bytes> for $ty {
            type Error = TopicError;
            /// Validates the bytes as an MQTT string, then as a topic; no copy.
            fn try_from(bytes: bytes::Bytes) -> Result<Self, TopicError> {
                Self::new(MqttString::try_from(bytes)?)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = TopicError;
            /// Copies `s` into a new buffer.
            fn try_from(s: &str) -> Result<Self, TopicError> {
                Self::new(MqttString::try_from(s)?)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = TopicError;
            /// Takes over the string's buffer; no copy.
            fn try_from(s: String) -> Result<Self, TopicError> {
                Self::new(MqttString::try_from(s)?)
            }
        }

        impl core::str::FromStr for $ty {
            type Err = TopicError;
            /// Copies `s` into a new buffer.
            fn from_str(s: &str) -> Result<Self, TopicError> {
                Self::try_from(s)
            }
        }

        impl From<$ty> for MqttString {
            fn from(topic: $ty) -> Self {
                topic.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        /// Hashing, equality and ordering are those of the string, so maps keyed by topic
        /// can be queried with a `&str`.
        impl core::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use topic_string_impls;

mod error;
mod filter;
mod levels;
mod matching;
mod name;
mod retained;
mod shared;
mod tree;

pub use error::TopicError;
pub use filter::TopicFilter;
pub use matching::filter_matches;
pub use name::TopicName;
pub use retained::RetainedIndex;
pub use shared::SharedSubscription;
pub use tree::{Match, SharedGroup, SubscriptionTree};
