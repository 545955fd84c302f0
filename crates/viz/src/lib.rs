//! # trainscope-viz
#![warn(missing_docs)]

pub mod analytic;
mod error;
pub mod grid;
pub mod model_surface;
pub mod playground;
pub mod plot;

pub use analytic::{AnalyticSurface, BOWL_COEFFICIENTS};
pub use error::{Result, VizError};
pub use grid::{Grid, Window};
pub use model_surface::{
    direction_plane, filter_normalize, filter_normalized_direction, flat_parameters,
    function_surface, loss_at, loss_surface, parameter_index, parameter_pair_plane, random_plane,
    LossProblem, Plane,
};
pub use playground::{
    distance, find_burst, lecture_runs, lecture_story, oscillation, run_playground,
    run_playgrounds, Burst, LectureFindings, LectureStory, Oscillation, PlaygroundRun, Trajectory,
};
