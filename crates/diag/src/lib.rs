//! # trainscope-diag
//!
//! Why training behaves as it does, computed exactly. Near a point θ′ the loss is
//! `L(θ) ≈ L(θ′) + (θ − θ′)ᵀg + ½(θ − θ′)ᵀH(θ − θ′)`; at a critical point (`g = 0`) the signs of
//! the Hessian's eigenvalues say what the point is — all positive: local minimum, all
//! negative: local maximum, mixed: saddle, and the eigenvector of a negative eigenvalue is a way
//! down. This crate turns that reasoning into tools:
//!
//! - [`LossFunction`]: the whole-training-set loss of a model (or any closure) as a function
//!   of one flat parameter vector, evaluated in batches, with exact gradients, Hessian-vector
//!   products ([`HessianOperator`]) and the dense Hessian.
//! - [`analyse`]: the spectrum of the **true** Hessian (dense eigendecomposition, or Lanczos
//!   with full re-orthogonalization for both ends, a Hutchinson trace and a stochastic Lanczos
//!   quadrature density), positive / negative / zero counts with a stated tolerance, the
//!   [`verdict`] by the definitions (a saddle needs a direction that goes down) and, beside
//!   it, the course's minimum-ratio [`course_verdict`], all in a serializable
//!   [`HessianReport`].
//! - [`escape`] / [`escape_from`]: a line search along the most negative eigenvector, in both
//!   directions, next to the second-order Taylor prediction.
//! - [`find_critical_point`]: minimizes `½‖∇L‖²` (gradient `H∇L`) to land on a critical point.
//! - [`StuckReport`]: the shape in which a stuck loss is reported as plateaus.
//!
//! ```
//! use trainscope_diag::{analyse, escape_from, AnalysisOptions, EscapeOptions, LossFunction,
//!     Verdict};
//!
//! // f(x, y) = x² − y²: a saddle at the origin, Hessian diag(2, −2).
//! let f = LossFunction::from_closure(
//!     |p| {
//!         let x = p[0].gather(0, &[0])?;
//!         let y = p[0].gather(0, &[1])?;
//!         Ok(x.powf(2.0).sub(&y.powf(2.0))?.sum())
//!     },
//!     vec![vec![2]],
//!     None,
//! )
//! .unwrap();
//! let theta = [0.0, 0.0];
//! let report = analyse(&f, &theta, &AnalysisOptions::default()).unwrap();
//! assert_eq!(report.eigenvalues.as_deref(), Some(&[-2.0, 2.0][..]));
//! assert_eq!((report.positive, report.negative), (Some(1), Some(1)));
//! assert_eq!(report.verdict, Verdict::SaddlePoint);
//! assert_eq!(report.course_verdict, Some(Verdict::SaddlePoint));
//!
//! // Along the eigenvector of −2 the loss falls exactly as ½α²λ predicts.
//! let esc = escape_from(&f, &theta, &report, &EscapeOptions::default()).unwrap();
//! assert!(esc.lowered && (esc.actual_change - esc.predicted_change).abs() < 1e-9);
//! println!("{report}\n{esc}");
//! ```

#![warn(missing_docs)]

mod critical;
mod error;
mod escape;
mod hessian;
mod lanczos;
mod objective;
mod stuck;

pub use critical::{
    find_critical_point, CriticalMethod, CriticalOptions, CriticalPointReport, CriticalStep,
};
pub use error::{Error, Result};
pub use escape::{escape, escape_from, EscapeOptions, EscapeReport, EscapeStep};
pub use hessian::{
    analyse, course_verdict, dense_bytes, disagreement_note, flat_directions_note, symmetric_eigen,
    verdict, AnalysisMode, AnalysisOptions, Counts, HessianReport, Thresholds, TraceReport,
    Verdict,
};
pub use lanczos::{
    density_from_eigenvalues, hutchinson_trace, lanczos_extremes, spectral_density, DenseOperator,
    DensityOptions, EigenPair, LanczosOptions, LanczosResult, RitzValue, SpectralDensity,
    SymmetricOperator, TraceEstimate,
};
pub use objective::{
    EvalOptions, Gradient, GradientReport, HessianOperator, LossClosure, LossFunction, ParamNorm,
    Reducer, Share, Targets,
};
pub use stuck::{Plateau, PlateauKind, StuckOptions, StuckReport};
