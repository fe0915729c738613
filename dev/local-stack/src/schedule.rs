//! The template's schedules, run locally: its `rate(...)` defaults, overridable from the
//! environment, become intervals.

use std::time::Duration;

/// The interval of an EventBridge `rate(...)` expression; `cron(...)` has no local runner.
pub fn rate_interval(expression: &str) -> Result<Duration, String> {
    let invalid = || format!("expected rate(<n> minute[s]|hour[s]|day[s]), got {expression:?}");
    let inner = expression.trim().strip_prefix("rate(").and_then(|rest| rest.strip_suffix(')')).ok_or_else(invalid)?;
    let (amount, unit) = inner.trim().split_once(' ').ok_or_else(invalid)?;
    let amount: u64 = amount.parse().ok().filter(|n| *n > 0).ok_or_else(invalid)?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86400,
        _ => return Err(invalid()),
    };
    Ok(Duration::from_secs(amount * seconds))
}

/// The schedule in environment `variable`, else the template `parameter`'s default, with its
/// interval.
pub fn scheduled(variable: &str, parameter: &str) -> Result<(String, Duration), String> {
    let expression = match std::env::var(variable) {
        Ok(value) => value,
        Err(_) => crate::template::parameter_default(parameter)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("the template's {parameter} has no default"))?,
    };
    let interval = rate_interval(&expression).map_err(|error| format!("{variable}: {error}"))?;
    Ok((expression, interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions_become_intervals() {
        assert_eq!(rate_interval("rate(5 minutes)"), Ok(Duration::from_secs(300)));
        assert_eq!(rate_interval("rate(1 hour)"), Ok(Duration::from_secs(3600)));
        assert_eq!(rate_interval(" rate(2 days) "), Ok(Duration::from_secs(172_800)));
        for bad in ["cron(0 * * * ? *)", "rate(0 minutes)", "rate(5)", "rate(five minutes)", "rate(5 weeks)"] {
            assert!(rate_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_template_default_schedules_run_locally() {
        for parameter in [
            crate::collector::SCHEDULE_PARAMETER,
            crate::coverage::SCHEDULE_PARAMETER,
            crate::kubernetes::SCHEDULE_PARAMETER,
        ] {
            let (_, interval) = scheduled("NO_SUCH_VARIABLE_FOR_THIS_TEST", parameter).expect(parameter);
            assert_eq!(interval, Duration::from_secs(300), "{parameter}");
        }
    }
}
