# cmake -DFUZZER=bin -DSEEDS=dir -DWORK=dir -DARGS="-flag;..." -P run_fuzz.cmake
# Runs a libFuzzer binary over a fresh copy of a seed corpus (WORK/corpus), logging to
# WORK/fuzz.log; a crash's reproducer goes to WORK/artifacts/. Prints the final statistics, or on
# failure the log without its progress lines, and fails when the fuzzer does.
file(REMOVE_RECURSE "${WORK}/corpus")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(GLOB seeds "${SEEDS}/*")
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
execute_process(
  COMMAND "${FUZZER}" "${WORK}/corpus" -artifact_prefix=${WORK}/artifacts/ ${ARGS}
  OUTPUT_FILE "${WORK}/fuzz.log" ERROR_FILE "${WORK}/fuzz.log"
  RESULT_VARIABLE result)
if(result EQUAL 0)
  file(STRINGS "${WORK}/fuzz.log" stats REGEX "^(Done|stat::)")
  foreach(line IN LISTS stats)
    message("${line}")
  endforeach()
else()
  # The whole log but libFuzzer's progress lines ("#123 NEW ..."); read as one string, since a
  # line's unbalanced '[' would break a CMake list.
  file(READ "${WORK}/fuzz.log" log)
  string(REGEX REPLACE "#[0-9]+\t[^\n]*\n" "" log "${log}")
  message("${log}")
  message(FATAL_ERROR "fuzzer failed (${result}); log ${WORK}/fuzz.log, reproducer in ${WORK}/artifacts/")
endif()
