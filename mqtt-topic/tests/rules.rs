//! The topic rules of the specifications as tables: one line per case, one `#[test]` each.
//!
//! Test names carry the normative id they check. Where MQTT 5.0 renumbered a rule the name
//! carries both: `v3_4_7_1_2_v5_4_7_1_1_...` is 3.1.1 [MQTT-4.7.1-2] = v5 [MQTT-4.7.1-1].
//! `mqtt_...` ids are the same in both versions, `v5_...` ids exist only in MQTT 5.0.
//! Cases marked "spec example" are the non-normative examples of sections 4.7 and 4.8.2.
//!
//! At the end, property tests hold validation and [`filter_matches`] to independent models.

use bytes::Bytes;
use mqtt_codec::{InvalidString, MqttString, ReasonCode};
use mqtt_topic::{filter_matches, SharedSubscription, TopicError, TopicFilter, TopicName};
use proptest::prelude::*;

use TopicError::{
    Empty, InvalidMultiLevelWildcard, InvalidShareName, InvalidSingleLevelWildcard,
    MissingSharedFilter, WildcardInName,
};

// ---------------------------------------------------------------------------------------------
// Topic names
// ---------------------------------------------------------------------------------------------

/// `name: input => Ok(()) | Err(error);` checks `TopicName::try_from(input)`.
macro_rules! names {
    ($($test:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $test() {
            let got = TopicName::try_from($input);
            assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), $expected, "topic name {:?}", $input);
            if let Ok(name) = got {
                assert_eq!(name.as_str(), $input);
            }
        }
    )*};
}

names! {
    mqtt_4_7_3_1_empty_name_refused: "" => Err(Empty);
    mqtt_4_7_3_1_one_character_name_accepted: "a" => Ok(());
    mqtt_4_7_3_1_separator_alone_is_a_name: "/" => Ok(());
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_plus_alone_refused: "+" => Err(WildcardInName);
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_hash_alone_refused: "#" => Err(WildcardInName);
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_plus_level_refused: "sport/+/player1" => Err(WildcardInName);
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_hash_level_refused: "sport/#" => Err(WildcardInName);
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_plus_inside_level_refused: "sport+" => Err(WildcardInName);
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_hash_inside_level_refused: "fo#o" => Err(WildcardInName);
    mqtt_3_3_2_2_v3_4_7_1_1_v5_4_7_0_1_wildcard_after_multibyte_refused: "é/😀+" => Err(WildcardInName);
    section_4_7_1_1_empty_levels_accepted: "a//b" => Ok(());
    section_4_7_1_1_leading_separator_accepted: "/finance" => Ok(());
    section_4_7_1_1_trailing_separator_accepted: "sport/" => Ok(());
    section_4_7_2_dollar_name_accepted: "$SYS/monitor/Clients" => Ok(());
    section_4_7_3_spec_example_space_accepted: "Accounts payable" => Ok(());
    section_4_7_3_multibyte_levels_accepted: "日本/ü/😀" => Ok(());
}

#[test]
fn mqtt_4_7_3_2_null_character_refused_in_name() {
    assert_eq!(
        TopicName::try_from("a\0b"),
        Err(TopicError::InvalidString(InvalidString::NullCharacter))
    );
    assert_eq!(
        TopicName::try_from(Bytes::from_static(b"a\0b")),
        Err(TopicError::InvalidString(InvalidString::NullCharacter))
    );
}

#[test]
fn mqtt_4_7_3_3_name_of_65535_bytes_accepted_65536_refused() {
    let longest = "a".repeat(65_535);
    assert!(TopicName::try_from(longest.as_str()).is_ok());
    assert_eq!(
        TopicName::try_from(longest + "a"),
        Err(TopicError::InvalidString(InvalidString::TooLong))
    );
}

#[test]
fn mqtt_4_7_3_4_name_is_kept_byte_for_byte() {
    // NFC and NFD spellings of "café" are different names; a BOM is kept.
    let nfc = TopicName::try_from("caf\u{e9}").unwrap();
    let nfd = TopicName::try_from("cafe\u{301}").unwrap();
    assert_ne!(nfc, nfd);
    assert_eq!(
        TopicName::try_from("\u{feff}a").unwrap().as_str(),
        "\u{feff}a"
    );
    // Case-sensitive: the spec's own example, section 4.7.3.
    assert_ne!(
        TopicName::from_static("ACCOUNTS"),
        TopicName::from_static("Accounts")
    );
}

#[test]
fn name_wraps_the_string_without_copying() {
    let input = Bytes::from_static(b"sport/tennis/player1");
    let string = MqttString::try_from(input.clone()).unwrap();
    let name = TopicName::new(string).unwrap();
    assert_eq!(name.as_str().as_ptr(), input.as_ptr());
    let from_bytes = TopicName::try_from(input.clone()).unwrap();
    assert_eq!(from_bytes.as_str().as_ptr(), input.as_ptr());
    assert_eq!(name.into_inner().as_bytes().as_ptr(), input.as_ptr());
}

#[test]
fn name_levels_include_empty_levels() {
    let levels = |s: &str| {
        TopicName::try_from(s)
            .unwrap()
            .levels()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(levels("a"), ["a"]);
    assert_eq!(levels("/"), ["", ""]);
    assert_eq!(levels("a//b"), ["a", "", "b"]);
    assert_eq!(levels("/finance"), ["", "finance"]);
    assert_eq!(levels("sport/"), ["sport", ""]);
}

#[test]
fn name_is_dollar_only_for_a_leading_dollar() {
    assert!(TopicName::from_static("$SYS").is_dollar());
    assert!(TopicName::from_static("$").is_dollar());
    assert!(!TopicName::from_static("/$SYS").is_dollar());
    assert!(!TopicName::from_static("a$").is_dollar());
}

#[test]
fn name_from_static_is_const() {
    const NAME: TopicName = TopicName::from_static("$SYS/broker/uptime");
    assert_eq!(NAME, "$SYS/broker/uptime");
    assert_eq!(NAME.to_string(), "$SYS/broker/uptime");
}

#[test]
#[should_panic(expected = "must not contain")]
fn name_from_static_panics_on_a_wildcard() {
    let _ = TopicName::from_static("sport/+");
}

#[test]
#[should_panic(expected = "at least one character")]
fn name_from_static_panics_when_empty() {
    let _ = TopicName::from_static("");
}

// ---------------------------------------------------------------------------------------------
// Topic filters
// ---------------------------------------------------------------------------------------------

/// `name: input => Ok(()) | Err(error);` checks `TopicFilter::try_from(input)`.
macro_rules! filters {
    ($($test:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $test() {
            let got = TopicFilter::try_from($input);
            assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), $expected, "topic filter {:?}", $input);
            if let Ok(filter) = got {
                assert_eq!(filter.as_str(), $input);
            }
        }
    )*};
}

filters! {
    mqtt_4_7_3_1_empty_filter_refused: "" => Err(Empty);
    mqtt_4_7_3_1_one_character_filter_accepted: "a" => Ok(());
    // # (3.1.1 [MQTT-4.7.1-2], v5 [MQTT-4.7.1-1])
    v3_4_7_1_2_v5_4_7_1_1_spec_example_hash_alone_valid: "#" => Ok(());
    v3_4_7_1_2_v5_4_7_1_1_spec_example_hash_last_level_valid: "sport/tennis/#" => Ok(());
    v3_4_7_1_2_v5_4_7_1_1_spec_example_hash_inside_level_invalid: "sport/tennis#" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_spec_example_hash_not_last_invalid: "sport/tennis/#/ranking" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_after_separator_alone_valid: "/#" => Ok(());
    v3_4_7_1_2_v5_4_7_1_1_hash_after_empty_level_valid: "a//#" => Ok(());
    v3_4_7_1_2_v5_4_7_1_1_hash_first_of_two_levels_invalid: "#/" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_twice_invalid: "##" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_inside_word_invalid: "fo#o" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_before_text_invalid: "a/#b" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_after_text_invalid: "foo#" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_then_plus_invalid: "#/+" => Err(InvalidMultiLevelWildcard);
    v3_4_7_1_2_v5_4_7_1_1_hash_after_multibyte_invalid: "é#" => Err(InvalidMultiLevelWildcard);
    // + (3.1.1 [MQTT-4.7.1-3], v5 [MQTT-4.7.1-2])
    v3_4_7_1_3_v5_4_7_1_2_spec_example_plus_alone_valid: "+" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_spec_example_plus_first_with_hash_valid: "+/tennis/#" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_spec_example_plus_inside_level_invalid: "sport+" => Err(InvalidSingleLevelWildcard);
    v3_4_7_1_3_v5_4_7_1_2_spec_example_plus_middle_level_valid: "sport/+/player1" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_spec_example_plus_last_level_valid: "sport/tennis/+" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_plus_on_both_levels_valid: "+/+" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_plus_after_leading_separator_valid: "/+" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_plus_before_hash_valid: "+/#" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_plus_between_empty_levels_valid: "a//+//#" => Ok(());
    v3_4_7_1_3_v5_4_7_1_2_plus_before_text_invalid: "+foo" => Err(InvalidSingleLevelWildcard);
    v3_4_7_1_3_v5_4_7_1_2_plus_after_text_invalid: "foo+" => Err(InvalidSingleLevelWildcard);
    v3_4_7_1_3_v5_4_7_1_2_plus_twice_in_level_invalid: "a/++/b" => Err(InvalidSingleLevelWildcard);
    v3_4_7_1_3_v5_4_7_1_2_plus_then_hash_in_level_invalid: "+#" => Err(InvalidSingleLevelWildcard);
    v3_4_7_1_3_v5_4_7_1_2_plus_in_last_level_text_invalid: "sport/tennis+" => Err(InvalidSingleLevelWildcard);
    v3_4_7_1_3_v5_4_7_1_2_plus_after_multibyte_invalid: "😀+/a" => Err(InvalidSingleLevelWildcard);
    // Levels without wildcards
    section_4_7_1_1_empty_levels_valid: "//" => Ok(());
    section_4_7_2_dollar_filter_valid: "$SYS/#" => Ok(());
    section_4_8_2_shared_form_is_a_syntactically_valid_filter: "$share/g/a" => Ok(());
    section_4_8_2_invalid_share_name_still_valid_filter_syntax: "$share/+/a" => Ok(());
}

#[test]
fn mqtt_4_7_3_2_null_character_refused_in_filter() {
    assert_eq!(
        TopicFilter::try_from("a/\0/#"),
        Err(TopicError::InvalidString(InvalidString::NullCharacter))
    );
}

#[test]
fn mqtt_4_7_3_3_filter_of_65535_bytes_accepted_65536_refused() {
    let longest = format!("{}/#", "a".repeat(65_533));
    assert!(TopicFilter::try_from(longest.as_str()).is_ok());
    assert_eq!(
        TopicFilter::try_from(format!("a{longest}")),
        Err(TopicError::InvalidString(InvalidString::TooLong))
    );
}

#[test]
fn filter_wraps_the_string_without_copying() {
    let input = Bytes::from_static(b"sport/+/player1");
    let filter = TopicFilter::new(MqttString::try_from(input.clone()).unwrap()).unwrap();
    assert_eq!(filter.as_str().as_ptr(), input.as_ptr());
    assert_eq!(filter.as_mqtt_string().as_bytes().as_ptr(), input.as_ptr());
}

#[test]
fn filter_wildcard_queries() {
    assert!(TopicFilter::from_static("a/+/b").has_wildcards());
    assert!(TopicFilter::from_static("#").has_wildcards());
    assert!(!TopicFilter::from_static("a//b").has_wildcards());
    assert!(TopicFilter::from_static("+/a").starts_with_wildcard());
    assert!(TopicFilter::from_static("#").starts_with_wildcard());
    assert!(!TopicFilter::from_static("a/#").starts_with_wildcard());
    assert!(TopicFilter::from_static("$SYS/#").is_dollar());
    assert_eq!(
        TopicFilter::from_static("/+//#")
            .levels()
            .collect::<Vec<_>>(),
        ["", "+", "", "#"]
    );
}

#[test]
fn filter_from_static_is_const() {
    const FILTER: TopicFilter = TopicFilter::from_static("sport/+/player1");
    assert_eq!(FILTER, "sport/+/player1");
}

#[test]
#[should_panic(expected = "`#` must be alone")]
fn filter_from_static_panics_on_a_misplaced_hash() {
    let _ = TopicFilter::from_static("sport/#/ranking");
}

#[test]
#[should_panic(expected = "`+` must occupy")]
fn filter_from_static_panics_on_a_misplaced_plus() {
    let _ = TopicFilter::from_static("sport+");
}

// ---------------------------------------------------------------------------------------------
// Reason codes
// ---------------------------------------------------------------------------------------------

/// `name: error => reason code;`
macro_rules! reason_codes {
    ($($test:ident: $error:expr => $code:expr;)*) => {$(
        #[test]
        fn $test() {
            assert_eq!($error.reason_code(), $code);
        }
    )*};
}

reason_codes! {
    mqtt_4_7_3_1_empty_answers_topic_filter_invalid: Empty => ReasonCode::TopicFilterInvalid;
    mqtt_3_3_2_2_wildcard_in_name_answers_topic_name_invalid: WildcardInName => ReasonCode::TopicNameInvalid;
    v3_4_7_1_2_v5_4_7_1_1_misplaced_hash_answers_topic_filter_invalid: InvalidMultiLevelWildcard => ReasonCode::TopicFilterInvalid;
    v3_4_7_1_3_v5_4_7_1_2_misplaced_plus_answers_topic_filter_invalid: InvalidSingleLevelWildcard => ReasonCode::TopicFilterInvalid;
    v5_4_8_2_2_share_name_answers_topic_filter_invalid: InvalidShareName => ReasonCode::TopicFilterInvalid;
    v5_4_8_2_2_missing_shared_filter_answers_topic_filter_invalid: MissingSharedFilter => ReasonCode::TopicFilterInvalid;
    mqtt_4_7_3_2_null_character_answers_malformed_packet: TopicError::InvalidString(InvalidString::NullCharacter) => ReasonCode::MalformedPacket;
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/// `name: filter, topic name => matches;` checks `filter_matches` and `TopicFilter::matches`.
macro_rules! matching {
    ($($test:ident: $filter:expr, $name:expr => $expected:expr;)*) => {$(
        #[test]
        fn $test() {
            let filter = TopicFilter::try_from($filter).expect($filter);
            let name = TopicName::try_from($name).expect($name);
            assert_eq!(filter_matches(&filter, &name), $expected, "{:?} vs {:?}", $filter, $name);
            assert_eq!(filter.matches(&name), $expected);
        }
    )*};
}

matching! {
    // # matches the parent and any number of child levels (3.1.1 4.7.1.2, v5 4.7.1.2).
    section_4_7_1_2_spec_example_hash_matches_parent: "sport/tennis/player1/#", "sport/tennis/player1" => true;
    section_4_7_1_2_spec_example_hash_matches_child: "sport/tennis/player1/#", "sport/tennis/player1/ranking" => true;
    section_4_7_1_2_spec_example_hash_matches_grandchild: "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon" => true;
    section_4_7_1_2_spec_example_sport_hash_matches_sport: "sport/#", "sport" => true;
    section_4_7_1_2_sport_hash_matches_empty_child: "sport/#", "sport/" => true;
    section_4_7_1_2_sport_hash_matches_deep_child: "sport/#", "sport/tennis/x" => true;
    section_4_7_1_2_sport_hash_not_a_prefix_of_a_level: "sport/#", "sports" => false;
    section_4_7_1_2_sport_hash_not_another_parent: "sport/#", "other/tennis" => false;
    section_4_7_1_2_spec_example_hash_matches_everything: "#", "a/b/c" => true;
    section_4_7_1_2_hash_matches_separator_only: "#", "/" => true;
    section_4_7_1_2_slash_hash_matches_leading_empty_level: "/#", "/finance" => true;
    section_4_7_1_2_slash_hash_matches_empty_parent: "/#", "/" => true;
    section_4_7_1_2_slash_hash_not_without_empty_first_level: "/#", "finance" => false;
    // + matches exactly one level, which may be empty (4.7.1.3).
    section_4_7_1_3_spec_example_plus_matches_player1: "sport/tennis/+", "sport/tennis/player1" => true;
    section_4_7_1_3_spec_example_plus_matches_player2: "sport/tennis/+", "sport/tennis/player2" => true;
    section_4_7_1_3_spec_example_plus_not_two_levels: "sport/tennis/+", "sport/tennis/player1/ranking" => false;
    section_4_7_1_3_spec_example_sport_plus_not_sport: "sport/+", "sport" => false;
    section_4_7_1_3_spec_example_sport_plus_matches_sport_slash: "sport/+", "sport/" => true;
    section_4_7_1_3_spec_example_plus_plus_matches_slash_finance: "+/+", "/finance" => true;
    section_4_7_1_3_spec_example_slash_plus_matches_slash_finance: "/+", "/finance" => true;
    section_4_7_1_3_spec_example_plus_not_slash_finance: "+", "/finance" => false;
    section_4_7_1_3_plus_plus_matches_two_empty_levels: "+/+", "/" => true;
    section_4_7_1_3_plus_matches_empty_middle_level: "foo/+/baz", "foo//baz" => true;
    section_4_7_1_3_plus_not_missing_middle_level: "foo/+/baz", "foo/baz" => false;
    section_4_7_1_3_plus_then_hash_matches_one_level: "+/#", "a" => true;
    section_4_7_1_3_spec_example_plus_and_hash: "+/tennis/#", "sport/tennis/player1/ranking" => true;
    section_4_7_1_3_spec_example_plus_middle: "sport/+/player1", "sport/tennis/player1" => true;
    // Topics beginning with $ (4.7.2).
    mqtt_4_7_2_1_spec_example_hash_not_dollar: "#", "$SYS/monitor/Clients" => false;
    mqtt_4_7_2_1_hash_not_bare_dollar_topic: "#", "$SYS" => false;
    mqtt_4_7_2_1_hash_not_lone_dollar: "#", "$" => false;
    mqtt_4_7_2_1_spec_example_plus_first_not_dollar: "+/monitor/Clients", "$SYS/monitor/Clients" => false;
    mqtt_4_7_2_1_plus_not_dollar: "+", "$SYS" => false;
    mqtt_4_7_2_1_plus_hash_not_dollar: "+/#", "$SYS/x" => false;
    mqtt_4_7_2_1_spec_example_sys_hash_matches_sys_child: "$SYS/#", "$SYS/x" => true;
    mqtt_4_7_2_1_sys_hash_matches_sys_parent: "$SYS/#", "$SYS" => true;
    mqtt_4_7_2_1_spec_example_sys_plus_matches: "$SYS/monitor/+", "$SYS/monitor/Clients" => true;
    mqtt_4_7_2_1_exact_dollar_filter_matches: "$SYS/monitor/Clients", "$SYS/monitor/Clients" => true;
    mqtt_4_7_2_1_dollar_in_later_level_matched_by_hash: "a/#", "a/$b" => true;
    mqtt_4_7_2_1_dollar_in_later_level_matched_by_plus: "+/$b", "a/$b" => true;
    mqtt_4_7_2_1_leading_separator_is_not_dollar: "#", "/$SYS" => true;
    // Exact, case-sensitive, never normalised (4.7.3).
    mqtt_4_7_3_4_spec_example_case_sensitive: "ACCOUNTS", "Accounts" => false;
    mqtt_4_7_3_4_case_sensitive_under_plus: "sport/+/Player1", "sport/tennis/player1" => false;
    mqtt_4_7_3_4_nfc_filter_not_nfd_name: "caf\u{e9}/+", "cafe\u{301}/x" => false;
    mqtt_4_7_3_4_exact_multibyte_matches: "日本/+/😀", "日本/語/😀" => true;
    mqtt_4_7_3_4_space_is_a_character: "Accounts payable", "Accounts payable" => true;
    mqtt_4_7_3_4_trailing_space_differs: "a/b ", "a/b" => false;
    section_4_7_1_1_trailing_separator_is_a_level: "a/b", "a/b/" => false;
    section_4_7_1_1_leading_separator_is_a_level: "a/b", "/a/b" => false;
    section_4_7_1_1_empty_levels_match_exactly: "a//b", "a//b" => true;
    section_4_7_1_1_longer_filter_no_match: "a/b/c", "a/b" => false;
    section_4_8_2_shared_form_is_only_levels_here: "$share/g/a", "a" => false;
}

// ---------------------------------------------------------------------------------------------
// Shared subscriptions (v5 section 4.8.2)
// ---------------------------------------------------------------------------------------------

/// `name: input => Ok(Some((share name, filter))) | Ok(None) | Err(error);`
macro_rules! shared {
    ($($test:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $test() {
            let input = MqttString::try_from($input).unwrap();
            let got = SharedSubscription::parse(&input);
            let got = got
                .as_ref()
                .map(|shared| {
                    shared.as_ref().map(|s| (s.share_name().as_str(), s.filter().as_str()))
                })
                .map_err(|e| *e);
            assert_eq!(got, $expected, "{:?}", $input);
        }
    )*};
}

shared! {
    v5_4_8_2_1_share_name_and_filter: "$share/g/a/b" => Ok(Some(("g", "a/b")));
    v5_4_8_2_1_spec_example_consumer1: "$share/consumer1/sport/tennis/+" => Ok(Some(("consumer1", "sport/tennis/+")));
    v5_4_8_2_1_spec_example_filter_with_leading_separator: "$share/consumer1//finance" => Ok(Some(("consumer1", "/finance")));
    v5_4_8_2_1_hash_filter: "$share/g/#" => Ok(Some(("g", "#")));
    v5_4_8_2_1_dollar_filter: "$share/g/$SYS/#" => Ok(Some(("g", "$SYS/#")));
    v5_4_8_2_1_multibyte_share_name: "$share/grüße/a" => Ok(Some(("grüße", "a")));
    v5_4_8_2_1_empty_share_name_refused: "$share//a" => Err(InvalidShareName);
    v5_4_8_2_1_prefix_alone_refused: "$share/" => Err(InvalidShareName);
    v5_4_8_2_2_plus_in_share_name_refused: "$share/g+/a" => Err(InvalidShareName);
    v5_4_8_2_2_plus_share_name_refused: "$share/+/a" => Err(InvalidShareName);
    v5_4_8_2_2_hash_in_share_name_refused: "$share/g#/a" => Err(InvalidShareName);
    v5_4_8_2_2_hash_share_name_refused: "$share/#" => Err(InvalidShareName);
    v5_4_8_2_2_no_separator_after_share_name_refused: "$share/g" => Err(MissingSharedFilter);
    v5_4_8_2_2_empty_filter_after_share_name_refused: "$share/g/" => Err(MissingSharedFilter);
    v5_4_8_2_2_filter_must_be_valid_hash: "$share/g/a#" => Err(InvalidMultiLevelWildcard);
    v5_4_8_2_2_filter_must_be_valid_plus: "$share/g/a/+b" => Err(InvalidSingleLevelWildcard);
    v5_4_8_2_2_filter_of_empty_levels_is_valid: "$share/g//" => Ok(Some(("g", "/")));
    v5_4_8_2_1_nested_share_prefix_is_an_ordinary_filter: "$share/g/$share/h/a" => Ok(Some(("g", "$share/h/a")));
    v5_4_8_2_1_plain_filter_is_not_shared: "sport/#" => Ok(None);
    v5_4_8_2_1_prefix_without_separator_is_not_shared: "$share" => Ok(None);
    v5_4_8_2_1_prefix_is_case_sensitive: "$SHARE/g/a" => Ok(None);
    v5_4_8_2_1_longer_first_level_is_not_shared: "$shared/g/a" => Ok(None);
    v5_4_8_2_1_share_in_later_level_is_not_shared: "a/$share/g/b" => Ok(None);
}

#[test]
fn v5_4_8_2_1_shared_parts_are_slices_of_the_subscribed_string() {
    let subscribed = MqttString::try_from("$share/consumer1/sport/tennis/+").unwrap();
    let shared = SharedSubscription::parse(&subscribed).unwrap().unwrap();
    let range = subscribed.as_str().as_bytes().as_ptr_range();
    let name = shared.share_name().as_str();
    let filter = shared.filter().as_str();
    assert!(range.contains(&name.as_ptr()));
    assert!(range.contains(&filter.as_ptr()));
    assert_eq!(name.as_ptr(), subscribed.as_str()[7..].as_ptr());
    assert_eq!(filter.as_ptr(), subscribed.as_str()[17..].as_ptr());
    // The subscribed form is given back by Display.
    assert_eq!(shared.to_string(), subscribed.as_str());
    let (share_name, filter) = shared.into_parts();
    assert_eq!(
        (share_name.as_str(), filter.as_str()),
        ("consumer1", "sport/tennis/+")
    );
}

#[test]
fn v5_4_8_2_shared_filter_matches_like_its_inner_filter() {
    let subscribed = MqttString::from_static("$share/g/#");
    let shared = SharedSubscription::parse(&subscribed).unwrap().unwrap();
    assert!(filter_matches(
        shared.filter(),
        &TopicName::from_static("a/b")
    ));
    // [MQTT-4.7.2-1] still applies to the inner filter.
    assert!(!filter_matches(
        shared.filter(),
        &TopicName::from_static("$SYS/x")
    ));
}

// ---------------------------------------------------------------------------------------------
// Property tests against independent models
// ---------------------------------------------------------------------------------------------

/// Whether a topic filter given as levels matches a topic name given as levels, stated
/// declaratively rather than as a walk: a filter ending in `#` matches every name whose first
/// levels match the levels before it (the parent included); any other filter matches the
/// names with as many levels, each equal or under a `+`. Then the `$` rule on top.
fn model_matches(filter: &[&str], name: &[&str]) -> bool {
    let level_matches = |(f, n): (&&str, &&str)| *f == "+" || f == n;
    let starts_with_wildcard = matches!(filter.first(), Some(&"+" | &"#"));
    if name.first().is_some_and(|n| n.starts_with('$')) && starts_with_wildcard {
        return false;
    }
    match filter.split_last() {
        Some((&"#", parent)) => {
            name.len() >= parent.len() && parent.iter().zip(name).all(level_matches)
        }
        _ => filter.len() == name.len() && filter.iter().zip(name).all(level_matches),
    }
}

/// Whether a string is a valid topic filter, level by level.
fn model_valid_filter(s: &str) -> bool {
    let levels: Vec<&str> = s.split('/').collect();
    !s.is_empty()
        && levels.iter().enumerate().all(|(i, level)| {
            *level == "+" || (*level == "#" && i == levels.len() - 1) || !level.contains(['+', '#'])
        })
}

/// Name levels: the small alphabet makes collisions, empty levels and `$` topics common.
fn name_levels() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "", "$sys"]), 1..5)
        // A single empty level is the empty string, which is not a topic name.
        .prop_filter("topic names are not empty", |levels| levels != &[""])
}

/// Filter levels: `+` anywhere, `#` only last.
fn filter_levels() -> impl Strategy<Value = Vec<&'static str>> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "", "$sys", "+"]), 0..5),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash)| {
            if hash || levels.is_empty() {
                levels.push("#");
            }
            levels
        })
        .prop_filter("topic filters are not empty", |levels| levels != &[""])
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(2048)
    })]

    #[test]
    fn filter_matches_agrees_with_the_model(filter in filter_levels(), name in name_levels()) {
        let filter_str = filter.join("/");
        let name_str = name.join("/");
        let topic_filter = TopicFilter::try_from(filter_str.as_str()).unwrap();
        let topic_name = TopicName::try_from(name_str.as_str()).unwrap();
        prop_assert_eq!(
            filter_matches(&topic_filter, &topic_name),
            model_matches(&filter, &name),
            "{:?} vs {:?}", filter_str, name_str
        );
    }

    #[test]
    fn an_exact_filter_matches_its_own_name(name in name_levels()) {
        let name = TopicName::try_from(name.join("/")).unwrap();
        let filter = TopicFilter::try_from(name.as_str()).unwrap();
        prop_assert!(filter_matches(&filter, &name));
    }

    #[test]
    fn filter_validation_agrees_with_the_model(s in "[a/+#$é]{0,8}") {
        let got = TopicFilter::try_from(s.as_str());
        prop_assert_eq!(got.is_ok(), model_valid_filter(&s), "{:?}: {:?}", s, got);
    }

    #[test]
    fn name_validation_agrees_with_the_model(s in "[a/+#$é]{0,8}") {
        let valid = !s.is_empty() && !s.contains(['+', '#']);
        prop_assert_eq!(TopicName::try_from(s.as_str()).is_ok(), valid, "{:?}", s);
    }

    #[test]
    fn shared_parse_agrees_with_the_model(s in "(\\$share/)?[ag/+#]{0,6}") {
        let input = MqttString::try_from(s.as_str()).unwrap();
        let got = SharedSubscription::parse(&input);
        match s.strip_prefix("$share/") {
            None => prop_assert_eq!(got, Ok(None)),
            Some(rest) => {
                let (share_name, filter) = rest.split_once('/').unwrap_or((rest, ""));
                let valid = !share_name.is_empty()
                    && !share_name.contains(['+', '#'])
                    && model_valid_filter(filter);
                prop_assert_eq!(got.is_ok(), valid, "{:?}: {:?}", s, got);
                if let Ok(Some(shared)) = got {
                    prop_assert_eq!(shared.share_name().as_str(), share_name);
                    prop_assert_eq!(shared.filter().as_str(), filter);
                }
            }
        }
    }
}
