//! Issue 23: one user's story across every source. `user_timeline` and `sspr explain` are held to
//! the generator's model (`ground_truth.json` `user_stories`: one user per way a last session can
//! end) and to the other sources' rows for the same sessions.

use std::collections::BTreeSet;

use crate::util::{ground_truth, query_rows, shared_lake_arg, sspr, text};

const FLOW: [&str; 3] = [
    "Self-service password reset flow activity progress",
    "Reset password (self-service)",
    "Blocked from self-service password reset",
];

fn str_of<'a>(r: &'a serde_json::Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or("")
}

#[tokio::test]
async fn each_users_timeline_holds_their_sessions_as_the_generator_made_them() {
    let lake = sspr_analytics::store::Lake::open(&shared_lake_arg()).unwrap();
    let gt = ground_truth();
    assert!(gt.user_stories.len() >= 6, "{:?}", gt.user_stories);
    for story in &gt.user_stories {
        let rows = query_rows(&lake, "user_timeline", &[("user", &story.upn)]).await;
        let times: Vec<&str> = rows.iter().map(|r| str_of(r, "time")).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{}: in time order", story.upn);
        let flow =
            || rows.iter().filter(|r| str_of(r, "source") == "cloud" && FLOW.contains(&str_of(r, "event")));
        let sessions: BTreeSet<&str> = flow().map(|r| str_of(r, "correlation_id")).collect();
        let succeeded: BTreeSet<&str> = flow()
            .filter(|r| str_of(r, "outcome") == "succeeded")
            .map(|r| str_of(r, "correlation_id"))
            .collect();
        assert_eq!(
            (sessions.len() as u64, succeeded.len() as u64),
            (story.sessions, story.succeeded),
            "{story:?}"
        );
        // The last session ends as the generator ended it.
        let last: Vec<&serde_json::Value> =
            flow().filter(|r| str_of(r, "correlation_id") == story.last_correlation_id).collect();
        let ended = if last.iter().any(|r| str_of(r, "outcome") == "succeeded") {
            "succeeded"
        } else {
            last.iter().rev().map(|r| str_of(r, "outcome")).find(|o| *o != "progress").unwrap_or("unknown")
        };
        assert_eq!(ended, story.last_outcome, "{story:?}");
        // Every on-premises writeback event of the user's sessions is there, and nobody else's.
        for r in rows.iter().filter(|r| str_of(r, "source") == "writeback") {
            assert!(sessions.contains(str_of(r, "correlation_id")), "{r}");
        }
        // `sspr explain` tells the same: the counts, and for a session that did not succeed, how
        // it ended.
        let o = sspr(&["--lake", &shared_lake_arg(), "explain", &story.upn], &[]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(
            out.contains(&format!("In short: {} session(s), {} succeeded", story.sessions, story.succeeded)),
            "{story:?}\n{out}"
        );
        assert!(out.contains(&story.upn) && out.contains(&story.last_correlation_id), "{out}");
        if story.last_outcome != "succeeded" && story.last_outcome != "unknown" {
            assert!(out.contains(&format!("ended {}", story.last_outcome)), "{story:?}\n{out}");
        }
    }
}

/// A writeback failure: the cloud step, the Entra Connect server's events for its TrackingId with
/// their meaning and fix from the catalogue, and `sspr explain` naming the server-side cause; a
/// successful writeback: the DC's 4724 by the connector account in the same session.
#[tokio::test]
async fn a_writeback_failure_is_explained_with_the_servers_events_and_the_fix() {
    let lake = sspr_analytics::store::Lake::open(&shared_lake_arg()).unwrap();
    let failed = crate::util::sql_rows(
        &lake,
        "SELECT user_principal_name, correlation_id FROM reset_attempts \
         WHERE writeback_outcome = 'failed' ORDER BY started_at LIMIT 1",
    )
    .await;
    let (upn, session) = (str_of(&failed[0], "user_principal_name"), str_of(&failed[0], "correlation_id"));
    let rows = query_rows(&lake, "user_timeline", &[("user", upn)]).await;
    let server: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| str_of(r, "source") == "writeback" && str_of(r, "correlation_id") == session)
        .collect();
    let want = crate::util::sql_rows(
        &lake,
        &format!("SELECT count(*) AS n FROM writeback_events WHERE tracking_id = '{session}'"),
    )
    .await;
    assert_eq!(server.len() as i64, want[0]["n"].as_i64().unwrap(), "every server event of the session");
    let error =
        server.iter().find(|r| str_of(r, "outcome") == "error" && !str_of(r, "resolution").is_empty());
    let error = error.unwrap_or_else(|| panic!("an explained server error: {server:?}"));
    let o = sspr(&["--lake", &shared_lake_arg(), "explain", upn], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(str_of(error, "resolution")), "{out}");
    assert!(out.contains("What went wrong:") && out.contains("What to do:"), "{out}");

    let ok = crate::util::sql_rows(
        &lake,
        "SELECT user_principal_name, correlation_id FROM reset_attempts \
         WHERE writeback_outcome = 'succeeded' AND writeback_join = 'tracking_id' ORDER BY started_at LIMIT 1",
    )
    .await;
    let upn = str_of(&ok[0], "user_principal_name");
    let rows = query_rows(&lake, "user_timeline", &[("user", upn)]).await;
    let dc: Vec<&serde_json::Value> = rows.iter().filter(|r| str_of(r, "source") == "dc").collect();
    assert!(
        dc.iter().any(|r| str_of(r, "event").starts_with("4724")
            && str_of(r, "detail").contains("(password writeback)")),
        "{dc:?}"
    );
}

/// A user nobody logged: a clear error naming them, exit 1; no user at all: a usage error.
#[test]
fn an_unknown_user_is_named_and_the_run_fails() {
    let o = sspr(&["--lake", &shared_lake_arg(), "explain", "nobody@contoso.example"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing in the lake names \"nobody@contoso.example\""), "{err}");
    let o = sspr(&["--lake", &shared_lake_arg(), "query", "user_timeline"], &[]);
    let (_, err) = text(&o);
    assert!(!o.status.success() && err.contains("needs a value (--param user=…)"), "{err}");
}
