//! The native part of the `trainscope` Python package: models (a PyTorch state dict with a
//! layer list, a plain safetensors file, or a trainscope checkpoint), the Hessian analyses and
//! training, on numpy arrays. The Python side (`trainscope/__init__.py`) converts
//! `torch.nn.Sequential` modules and shapes the results into dicts.

mod analysis;
mod arrays;
mod model;
mod training;

use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(
    _native,
    TrainscopeError,
    pyo3::exceptions::PyValueError,
    "An error trainscope reports: the same one-line message as the command line's `error: …`."
);

/// Any error of the library as a [`TrainscopeError`] with its one-line message.
pub(crate) fn error(e: impl std::fmt::Display) -> PyErr {
    TrainscopeError::new_err(e.to_string())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TrainscopeError", m.py().get_type::<TrainscopeError>())?;
    m.add("VERSION", trainscope_train::VERSION)?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(analysis::diagnose, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::hessian, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::eigenvalues, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::hvp, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::gradient, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::loss_surface, m)?)?;
    m.add_function(wrap_pyfunction!(training::train, m)?)?;
    m.add_function(wrap_pyfunction!(training::set_threads, m)?)?;
    Ok(())
}
