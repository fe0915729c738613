//! A scheduled run (the collectors, the findings sync): when its invocation ends (its
//! `inventory_core::clock::Deadline` keeps a reserve before it), and when it failed.

/// When the invocation ends; none when the runtime set no deadline (0), so a run gets no cutoff
/// rather than an instant one.
pub fn invocation_end(context: &lambda_runtime::Context) -> Option<chrono::DateTime<chrono::Utc>> {
    (context.deadline > 0).then(|| context.deadline().into())
}

/// Why a scheduled run failed, if it did: only when it met errors and did nothing (`done`), so
/// the function's Errors metric and alarm show a run that is wholly broken, while a run that did
/// some of its work succeeds with its errors in its summary.
pub fn failed_run<'a>(what: &str, errors: impl ExactSizeIterator<Item = &'a str>, done: usize) -> Option<String> {
    let count = errors.len();
    let mut errors = errors;
    let first = errors.next()?;
    (done == 0).then(|| format!("no {what}; {count} errors, first: {first}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_fails_only_when_it_met_errors_and_did_nothing() {
        let errors = ["a timeout", "a 403"];
        assert_eq!(
            super::failed_run("cluster collected", errors.into_iter(), 0).as_deref(),
            Some("no cluster collected; 2 errors, first: a timeout")
        );
        assert_eq!(super::failed_run("cluster collected", errors.into_iter(), 1), None, "some work done");
        assert_eq!(super::failed_run("cluster collected", [].into_iter(), 0), None, "nothing to do");
    }
}
