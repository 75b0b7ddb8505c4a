//! Topic names: the topic a message is published to (PUBLISH, will, retained message).

use mqtt_codec::MqttString;

use crate::TopicError;

/// A topic name: at least one character [MQTT-4.7.3-1], without the wildcard characters `+`
/// and `#` (3.1.1 [MQTT-4.7.1-1], v5 [MQTT-4.7.0-1], [MQTT-3.3.2-2]).
///
/// A validated [`MqttString`] (so also without U+0000 [MQTT-4.7.3-2] and at most 65,535
/// bytes [MQTT-4.7.3-3]), wrapped without copying: a topic decoded from a PUBLISH keeps
/// sharing the packet's buffer. Comparison, ordering and hashing are those of the bytes:
/// names are never normalised [MQTT-4.7.3-4], so `ACCOUNTS` and `Accounts` are different
/// names. Empty levels are levels: `a//b` has three, `/` has two.
///
/// ```
/// use mqtt_codec::MqttString;
/// use mqtt_topic::{TopicError, TopicName};
///
/// let decoded = MqttString::from_static("sport/tennis/player1");
/// let name = TopicName::new(decoded)?;
/// assert_eq!(name.levels().collect::<Vec<_>>(), ["sport", "tennis", "player1"]);
///
/// assert_eq!(TopicName::try_from("sport/+"), Err(TopicError::WildcardInName));
/// assert_eq!(TopicName::try_from(""), Err(TopicError::Empty));
/// # Ok::<(), TopicError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicName(MqttString);

impl TopicName {
    /// Validates `topic` as a topic name without copying it.
    ///
    /// # Errors
    /// [`TopicError::Empty`] for an empty string, [`TopicError::WildcardInName`] when it
    /// contains `+` or `#`.
    ///
    /// ```
    /// use mqtt_codec::MqttString;
    /// use mqtt_topic::{TopicError, TopicName};
    ///
    /// let topic = MqttString::from_static("$SYS/broker/uptime");
    /// let name = TopicName::new(topic.clone())?;
    /// // The name shares the string's buffer.
    /// assert_eq!(name.as_str().as_ptr(), topic.as_str().as_ptr());
    ///
    /// let err = TopicName::new(MqttString::from_static("sport/#"));
    /// assert_eq!(err, Err(TopicError::WildcardInName));
    /// # Ok::<(), TopicError>(())
    /// ```
    pub fn new(topic: MqttString) -> Result<Self, TopicError> {
        if topic.is_empty() {
            return Err(TopicError::Empty);
        }
        // The codec's scan of 16-byte blocks: this runs on every PUBLISH a broker routes.
        if topic.has_wildcard() {
            return Err(TopicError::WildcardInName);
        }
        Ok(Self(topic))
    }

    /// A topic name from a `'static` literal, checked (at compile time in a `const`) and
    /// never copied.
    ///
    /// # Panics
    /// If `topic` is not a valid topic name (empty, or containing `+`, `#` or U+0000) or is
    /// longer than 65,535 bytes: a programming error in a literal, never reachable from
    /// network input. In a `const` item the panic is a compile error.
    ///
    /// ```
    /// use mqtt_topic::TopicName;
    ///
    /// const UPTIME: TopicName = TopicName::from_static("$SYS/broker/uptime");
    /// assert!(UPTIME.is_dollar());
    /// ```
    ///
    /// ```should_panic
    /// use mqtt_topic::TopicName;
    ///
    /// let _ = TopicName::from_static("sport/#");
    /// ```
    pub const fn from_static(topic: &'static str) -> Self {
        match check_name(topic.as_bytes()) {
            Ok(()) => Self(MqttString::from_static(topic)),
            Err(TopicError::Empty) => panic!("a topic name is at least one character long"),
            Err(_) => panic!("a topic name must not contain `+` or `#`"),
        }
    }
}

/// The rules of [`TopicName::new`] as a `const fn`, for [`TopicName::from_static`].
const fn check_name(bytes: &[u8]) -> Result<(), TopicError> {
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut i = 0;
    while i < bytes.len() {
        // `+` and `#` are ASCII: no byte of a multi-byte UTF-8 character can be mistaken
        // for them.
        if bytes[i] == b'+' || bytes[i] == b'#' {
            return Err(TopicError::WildcardInName);
        }
        i += 1;
    }
    Ok(())
}

crate::topic_string_impls!(TopicName, "a topic name", "sport/tennis/player1");
