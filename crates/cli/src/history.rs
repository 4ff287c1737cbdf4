//! Reading the record of past missions into `core::history`: every
//! mission of the database, folded one at a time, kept as task outcomes.
//! The store's trait is not extended: history is the missions' own logs.

use crate::args::Database;
use crate::database;
use crate::exit::CliError;
use techlead_core::history::{History, PastMission};
use techlead_core::state::MissionState;
use techlead_store::Store;

/// Every mission of `store`, newest first.
pub fn missions(store: &impl Store) -> Result<Vec<PastMission>, CliError> {
    let mut missions = Vec::new();
    for row in store.missions()? {
        let state = MissionState::replay(&store.events(&row.id, 0)?)
            .map_err(techlead_engine::mission::Error::from)?;
        missions.push(PastMission::new(&row.id, &state));
    }
    Ok(missions)
}

/// What planning learns from the database, if there is one. Planning never
/// creates a database, and a record it cannot read costs the plan its
/// history, not the plan: that is said on stderr.
pub fn for_planning(db: &Database) -> History {
    let path = database::path(db);
    if !path.exists() {
        return History::default();
    }
    let read = database::open(db).and_then(|(store, _)| missions(&store));
    match read {
        Ok(missions) => History::new(missions),
        Err(error) => {
            eprintln!("warning: planning without history: {error}");
            History::default()
        }
    }
}
