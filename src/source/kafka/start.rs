//! Where reading a topic starts (`--from`).

/// Where in the topic to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest retained message.
    Earliest,
    /// Only messages produced from now on.
    Latest,
    /// The first message at or after this time (ms since the epoch).
    Time(i64),
}

impl StartAt {
    /// Reads `earliest`, `latest`, an RFC 3339 time or a duration back from
    /// `now_ms` such as `-15m`.
    pub fn parse(text: &str, now_ms: i64) -> Result<Self, String> {
        let text = text.trim();
        match text {
            "earliest" | "beginning" => return Ok(StartAt::Earliest),
            "latest" | "end" => return Ok(StartAt::Latest),
            _ => {}
        }
        if let Some(back) = text.strip_prefix('-') {
            let d = humantime::parse_duration(back)
                .map_err(|e| format!("--from `{text}`: {e} (write it like -15m or -2h)"))?;
            let ms =
                i64::try_from(d.as_millis()).map_or(i64::MIN, |back| now_ms.saturating_sub(back));
            return Ok(StartAt::at(ms, text));
        }
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| StartAt::at(t.timestamp_millis(), text))
            .map_err(|_| {
                format!(
                    "--from `{text}` is not earliest, latest, a time like 2026-11-27T09:00:00Z or a duration back like -15m"
                )
            })
    }

    /// The first message at or after `ms`; before 1970, when no message
    /// can have been written (brokers refuse to look such a time up), the
    /// oldest one, said so.
    fn at(ms: i64, text: &str) -> Self {
        if ms >= 0 {
            return StartAt::Time(ms);
        }
        log::info!(
            "--from {}: that is before 1970, before any message; reading from the earliest",
            crate::format::printable(text)
        );
        StartAt::Earliest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_points_parse() {
        let now = 1_800_000_000_000;
        assert_eq!(StartAt::parse("earliest", now), Ok(StartAt::Earliest));
        assert_eq!(StartAt::parse("latest", now), Ok(StartAt::Latest));
        assert_eq!(
            StartAt::parse("-15m", now),
            Ok(StartAt::Time(now - 15 * 60 * 1000))
        );
        assert_eq!(
            StartAt::parse("2026-11-27T09:00:00Z", now),
            Ok(StartAt::Time(1_795_770_000_000))
        );
        assert!(StartAt::parse("yesterday", now).is_err());
    }

    #[test]
    fn a_start_before_any_message_is_the_earliest() {
        let now = 1_800_000_000_000;
        assert_eq!(
            StartAt::parse("-1000000000000d", now),
            Ok(StartAt::Earliest)
        );
        assert_eq!(
            StartAt::parse("0001-01-01T00:00:00Z", now),
            Ok(StartAt::Earliest)
        );
        assert_eq!(StartAt::parse("-60y", now), Ok(StartAt::Earliest));
        assert_eq!(
            StartAt::parse("1970-01-01T00:00:00Z", now),
            Ok(StartAt::Time(0))
        );
    }
}
