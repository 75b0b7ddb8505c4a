//! Why a string is not a topic name, a topic filter or a shared subscription.
//!
//! Normative ids are given for both specifications where they differ: the wildcard rules of
//! section 4.7.1 were renumbered in MQTT 5.0 (3.1.1 `[MQTT-4.7.1-1..3]` became v5
//! `[MQTT-4.7.0-1]` and `[MQTT-4.7.1-1..2]`).

use mqtt_codec::{InvalidString, ReasonCode};

/// A topic name, topic filter or shared subscription that breaks a rule of section 4.7 or
/// 4.8.2 of the specifications.
///
/// ```
/// use mqtt_codec::ReasonCode;
/// use mqtt_topic::{TopicError, TopicFilter, TopicName};
///
/// let err = TopicFilter::try_from("sport/tennis#").unwrap_err();
/// assert_eq!(err, TopicError::InvalidMultiLevelWildcard);
/// assert_eq!(err.reason_code(), ReasonCode::TopicFilterInvalid);
///
/// let err = TopicName::try_from("sport/+").unwrap_err();
/// assert_eq!(err.reason_code(), ReasonCode::TopicNameInvalid);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic name or topic filter is empty: both are at least one character long
    /// [MQTT-4.7.3-1]. For a shared subscription, see [`TopicError::MissingSharedFilter`].
    #[error("topic names and topic filters are at least one character long")]
    Empty,
    /// A topic name contains a wildcard character `+` or `#` (3.1.1 [MQTT-4.7.1-1],
    /// v5 [MQTT-4.7.0-1]; in a PUBLISH, [MQTT-3.3.2-2] in both).
    #[error("a topic name must not contain the wildcard characters `+` or `#`")]
    WildcardInName,
    /// A topic filter has a `#` that is not alone in the last level: it must be the whole
    /// filter or follow a `/`, and be the last character (3.1.1 [MQTT-4.7.1-2],
    /// v5 [MQTT-4.7.1-1]). `sport/tennis#` and `sport/tennis/#/ranking` are not valid.
    #[error("the multi-level wildcard `#` must be alone in the last level of a topic filter")]
    InvalidMultiLevelWildcard,
    /// A topic filter has a `+` that does not occupy a whole level (3.1.1 [MQTT-4.7.1-3],
    /// v5 [MQTT-4.7.1-2]). `sport+` is not valid.
    #[error("the single-level wildcard `+` must occupy a whole level of a topic filter")]
    InvalidSingleLevelWildcard,
    /// The ShareName of a `$share/{ShareName}/{filter}` subscription is empty
    /// (v5 [MQTT-4.8.2-1]) or contains `+` or `#` (v5 [MQTT-4.8.2-2]). It cannot contain
    /// `/`: the first `/` after `$share/` ends it.
    #[error("a ShareName is at least one character long, without `/`, `+` or `#`")]
    InvalidShareName,
    /// A `$share/{ShareName}` with no `/` and topic filter after it, or with an empty one:
    /// the ShareName "MUST be followed by a `/` character. This `/` character MUST be followed
    /// by a Topic Filter" (v5 [MQTT-4.8.2-2]), which is at least one character long
    /// [MQTT-4.7.3-1].
    #[error("a shared subscription's ShareName must be followed by `/` and a topic filter")]
    MissingSharedFilter,
    /// The string itself is not an MQTT UTF-8 string: it contains U+0000 [MQTT-4.7.3-2] or is
    /// longer than 65,535 bytes [MQTT-4.7.3-3]. Only the constructors that take unchecked
    /// input (`&str`, `String`, `Bytes`) return it: an [`mqtt_codec::MqttString`] cannot break
    /// these rules.
    #[error("not an MQTT UTF-8 string: {0}")]
    InvalidString(#[from] InvalidString),
}

impl TopicError {
    /// The MQTT 5 reason code a server answers with: 0x90 Topic Name invalid for a topic name,
    /// 0x8F Topic Filter invalid for a topic filter or a shared subscription, 0x81 Malformed
    /// Packet for a string that is not an MQTT string at all (as the codec answers it,
    /// [MQTT-1.5.4-2]).
    ///
    /// [`TopicError::Empty`] answers 0x8F: an empty string is refused by both
    /// [`TopicName`](crate::TopicName) and [`TopicFilter`](crate::TopicFilter), and the only
    /// packets that answer it with a topic reason code are SUBACK and UNSUBACK, where 0x90 is
    /// not allowed. An empty PUBLISH topic is settled by the codec before a `TopicName` is
    /// built: with a Topic Alias it is not an error, without one it is a Protocol Error.
    ///
    /// ```
    /// use mqtt_codec::ReasonCode;
    /// use mqtt_topic::TopicError;
    ///
    /// assert_eq!(TopicError::WildcardInName.reason_code(), ReasonCode::TopicNameInvalid);
    /// assert_eq!(TopicError::InvalidShareName.reason_code(), ReasonCode::TopicFilterInvalid);
    /// ```
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            Self::WildcardInName => ReasonCode::TopicNameInvalid,
            Self::Empty
            | Self::InvalidMultiLevelWildcard
            | Self::InvalidSingleLevelWildcard
            | Self::InvalidShareName
            | Self::MissingSharedFilter => ReasonCode::TopicFilterInvalid,
            Self::InvalidString(_) => ReasonCode::MalformedPacket,
        }
    }
}
