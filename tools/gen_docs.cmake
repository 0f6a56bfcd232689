# Writes the man page and the completion scripts with the built program:
# cmake -DSOCKPIT=path/to/sockpit -DOUT=dir -P gen_docs.cmake
file(MAKE_DIRECTORY ${OUT})
foreach(pair "--help-man;sockpit.1" "--completion=bash;sockpit.bash" "--completion=zsh;_sockpit")
  list(GET pair 0 opt)
  list(GET pair 1 name)
  execute_process(COMMAND ${SOCKPIT} ${opt} OUTPUT_FILE ${OUT}/${name}.tmp
                  ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE ${OUT}/${name}.tmp)
    message(FATAL_ERROR "sockpit ${opt} failed (${rc}): ${err}")
  endif()
  file(RENAME ${OUT}/${name}.tmp ${OUT}/${name})
endforeach()
