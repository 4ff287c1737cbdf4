//! The history forecasts learn from, read from the store: the finished
//! tasks of the newest missions, folded from their events through the
//! `Store` trait (docs/forecast.md, "History").

use techlead_core::forecast::History;
use techlead_core::forecast::model::HISTORY_MISSIONS;
use techlead_core::history::outcome::settled_outcomes;
use techlead_core::state::MissionState;
use techlead_store::Store;

/// The finished tasks of the newest [`HISTORY_MISSIONS`] missions that
/// finished any, but `except` (the mission being run, whose own finished
/// tasks its live forecast adds as they finish). A record that no longer
/// folds is left out rather than failing the forecast.
pub fn history(
    store: &(impl Store + ?Sized),
    except: Option<&str>,
) -> techlead_store::Result<History> {
    let mut history = History::default();
    let rows = store
        .missions()?
        .into_iter()
        .filter(|row| row.succeeded + row.failed > 0 && Some(row.id.as_str()) != except);
    for row in rows {
        if history.missions == HISTORY_MISSIONS {
            break;
        }
        if let Ok(state) = MissionState::replay(&store.events(&row.id, 0)?) {
            history.add(settled_outcomes(&row.id, &state));
        }
    }
    Ok(history)
}
