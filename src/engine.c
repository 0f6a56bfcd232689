int sp__core_placeholder;
