//! Decoding Jira's answers: any body is an error collection (possibly empty), and any bulk
//! create answer is either consistent with what was sent or a decode error, never a panic.
#![no_main]

use jira_sync_client::decode::{bulk_answer, jira_messages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jira_messages(data);
    let Some((sent, body)) = data.split_first() else {
        return;
    };
    let sent = usize::from(*sent % 51);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Ok(answer) = bulk_answer(&v, sent)
    {
        assert!(answer.created.len() + answer.failed.len() <= sent);
        assert!(answer.created.iter().all(|(i, _)| *i < sent));
        assert!(answer.failed.iter().all(|e| e.index < sent));
    }
});
