//! How the service scales with the cores: throughput at 64 clients for each split of this
//! machine's cores into sessions × intra-op threads (`runtime.sessions`,
//! `runtime.intra_threads`). Reported, not budgeted: it is the table that chose the `auto` rule
//! (sessions of two threads), and the one to read on a bigger machine.

use std::time::Duration;

use anyhow::Result;

use super::Report;
use super::measure::{Launcher, load};

/// Clients sending without pause.
const CLIENTS: usize = 64;

/// Every (sessions, threads) in powers of two whose product is at most `cores`.
fn grid(cores: usize) -> Vec<(usize, usize)> {
    let powers = |max: usize| {
        std::iter::successors(Some(1usize), |p| p.checked_mul(2)).take_while(move |p| *p <= max)
    };
    powers(cores)
        .flat_map(|s| powers(cores / s).map(move |t| (s, t)))
        .collect()
}

/// Requests per second at [`CLIENTS`] clients for each split, one server start each.
pub(super) fn table(launcher: &Launcher<'_>, duration: Duration, r: &mut Report) -> Result<()> {
    for (sessions, threads) in grid(r.machine_cores) {
        let (s, t) = (sessions.to_string(), threads.to_string());
        let (mut server, _) = launcher.start(&[
            ("NLP_HARDWARE_SESSIONS", s.as_str()),
            ("NLP_HARDWARE_INTRA_THREADS", t.as_str()),
        ])?;
        let (rps, _, errors) = load(&server.base, CLIENTS, duration, u64::MAX);
        server.terminate()?;
        r.scaling.push(ScalingRow {
            sessions,
            threads,
            requests_per_s: rps,
            errors,
        });
    }
    Ok(())
}

/// One line of the scaling table.
#[derive(Debug, serde::Serialize)]
pub(super) struct ScalingRow {
    pub sessions: usize,
    pub threads: usize,
    pub requests_per_s: f64,
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_grid_covers_every_split_within_the_cores() {
        assert_eq!(super::grid(1), vec![(1, 1)]);
        assert_eq!(super::grid(2), vec![(1, 1), (1, 2), (2, 1)]);
        assert!(super::grid(12).contains(&(4, 2)));
        assert!(super::grid(12).iter().all(|(s, t)| s * t <= 12));
    }
}
