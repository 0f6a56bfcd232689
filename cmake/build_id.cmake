# Writes OUT with SP_BUILD, the build's identity for `sockpit --version`:
# `git describe` of SRC when it is a git checkout, else VERSION. Run at every
# build (not at configure time, which would name a commit long gone); the
# file is rewritten only when the identity changed, so nothing else rebuilds.
set(build "${VERSION}")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --tags --always --dirty
                  WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE describe
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND describe)
    set(build "git ${describe}")
  endif()
endif()
set(content "#define SP_BUILD \"${build}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
