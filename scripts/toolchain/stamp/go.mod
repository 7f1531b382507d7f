module envctl.local/stamp

go 1.22
