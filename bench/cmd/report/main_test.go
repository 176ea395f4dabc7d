package main

import "testing"

func TestGoalsSection(t *testing.T) {
	const goals = "## 8. Goals (issues 2, 7 and 18)\n\n| goal | measured | verdict |\n|---|---|---|\n| a | b | c |\n"
	tests := []struct {
		name, report, want string
	}{
		{"before the keep marker", "# B\n\n## 7. End to end\n\nx\n\n" + goals + "\nAccount flows\n\n" + keepMarker + "\n\n## 9. Other\n", goals + "\nAccount flows\n"},
		{"before another heading", "## 7. X\n\n" + goals + "\n## 9. Y\n", goals},
		{"last section", "## 7. X\n\n" + goals, goals},
		{"no goals", "## 7. X\n\ny\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := goalsSection(tt.report); got != tt.want {
				t.Errorf("goalsSection = %q, want %q", got, tt.want)
			}
		})
	}
}
