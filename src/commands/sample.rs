//! `sspr sample generate`

use crate::cli::SampleCommand;
use crate::sample::{Params, generate};

pub fn run(cmd: &SampleCommand) -> anyhow::Result<()> {
    let SampleCommand::Generate { users, days, seed, end_date, session_rate, out } = cmd;
    let p =
        Params { users: *users, days: *days, seed: *seed, end_date: *end_date, session_rate: *session_rate };
    let truth = generate(&p, out)?;
    super::stdout(
        format!(
            "wrote {}: {} users, {} audit events, {} SSPR sessions ({} succeeded)\n",
            out.display(),
            truth.users,
            truth.audit_events,
            truth.sspr_sessions,
            truth.sspr_sessions_succeeded
        )
        .as_bytes(),
    )
}
