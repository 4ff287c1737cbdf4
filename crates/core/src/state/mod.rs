//! Mission state, event-sourced (DESIGN decisions 1 and 4).
//!
//! Every state change of a mission is an [`Event`], appended to the store
//! before it is acted on. [`MissionState`] is a pure fold of those events:
//! `state.apply(&record)` either moves it to the next legal state or
//! rejects the event and changes nothing. Task and mission statuses are
//! enums with explicit transition functions in `status`.

mod check;
mod done;
mod escalation;
mod event;
mod external;
mod fold;
mod index;
mod plan;
mod rare;
pub mod remaining;
mod split;
mod status;

pub use check::{missing_artifacts, missing_needs};
pub use done::{DoneResult, DoneState};
pub use escalation::{EscalationRecord, OpenEscalation, Resolution, escalation_history};
pub use event::{
    AttemptOutcome, Decision, EscalationKind, Event, EventRecord, NextStep, Report, TaskPart, Usage,
};
pub use external::{
    ExternalDependency, ExternalState, ExternalWait, Seen, Verdict, judge as judge_external,
};
pub use fold::{
    AttemptDetail, AttemptState, CheckResult, ForecastTrack, MissionState, StateError, Tally,
    TaskReports, TaskState, TaskWork,
};
pub use plan::{
    AgentPlan, Budget, Checkout, DoneItem, ForecastPlan, GatePlan, MergeStrategy, MissionPlan,
    OnBlocked, PhasePlan, PlanError, RepositoryPlan, Resolve, StandIn, Standing, TaskDetail,
    TaskPlan,
};
pub use rare::{Empty, Rare};
pub use status::{IllegalTransition, MissionStatus, TaskStatus};
