# Arrow + Parquet C++: a system install found by CMake wins; otherwise we build against
# the headers and shared libraries that the pyarrow wheel in the project venv carries,
# with an rpath so binaries run without LD_LIBRARY_PATH.
find_package(Arrow CONFIG QUIET)
find_package(Parquet CONFIG QUIET)

if(Arrow_FOUND AND Parquet_FOUND)
  message(STATUS "Arrow ${Arrow_VERSION}: system install")
  add_library(laminar_arrow INTERFACE)
  target_link_libraries(laminar_arrow INTERFACE Arrow::arrow_shared Parquet::parquet_shared)
  if(TARGET ArrowCompute::arrow_compute_shared)
    target_link_libraries(laminar_arrow INTERFACE ArrowCompute::arrow_compute_shared)
  endif()
  return()
endif()

execute_process(
  COMMAND "${LAMINAR_PYTHON}" -c "import pyarrow as pa; pa.create_library_symlinks(); print(pa.get_include()); print(pa.get_library_dirs()[0]); print(pa.__version__)"
  OUTPUT_VARIABLE _pa_out RESULT_VARIABLE _pa_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _pa_rc EQUAL 0)
  message(FATAL_ERROR "Arrow C++ not found: no system install and no pyarrow in ${LAMINAR_PYTHON}. "
                      "Run scripts/bootstrap first (or set LAMINAR_PYTHON).")
endif()
string(REPLACE "\n" ";" _pa_lines "${_pa_out}")
list(GET _pa_lines 0 PYARROW_INCLUDE_DIR)
list(GET _pa_lines 1 PYARROW_LIBRARY_DIR)
list(GET _pa_lines 2 PYARROW_VERSION)
message(STATUS "Arrow ${PYARROW_VERSION}: from the pyarrow wheel at ${PYARROW_LIBRARY_DIR}")

add_library(laminar_arrow INTERFACE)
# SYSTEM: Arrow's headers are not ours to keep warning-free.
target_include_directories(laminar_arrow SYSTEM INTERFACE "${PYARROW_INCLUDE_DIR}")
foreach(_lib arrow arrow_compute parquet)
  find_library(_path_${_lib} NAMES ${_lib} PATHS "${PYARROW_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
  target_link_libraries(laminar_arrow INTERFACE "${_path_${_lib}}")
endforeach()
target_link_options(laminar_arrow INTERFACE "-Wl,-rpath,${PYARROW_LIBRARY_DIR}")
