int sp__ui_placeholder;
