// Shared pieces of the fsbi-data Auryn programs: rule-token decoding, input validation,
// phase running with integer step counts, and the result marker.
//
// Written for fsbi-data from spec/network-models.md (sections 5.6, 6, 10 and 13).
#ifndef FSBI_COMMON_H_
#define FSBI_COMMON_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "auryn.h"

namespace fsbi {

// Exit status of a run whose input was rejected before any simulation.
const int EXIT_BAD_INPUT = 2;

// Finiteness from the bit pattern: the programs are compiled with -ffast-math, under which
// std::isfinite may be folded to true.
inline bool is_finite(double value)
{
	std::uint64_t bits;
	std::memcpy(&bits, &value, sizeof bits);
	return ((bits >> 52) & 0x7ff) != 0x7ff;
}

struct InputError : public std::runtime_error {
	explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

// Decode an "a"-separated number token: a<v0>a<v1>a...a<vK-1>a (spec section 5.6).
// Unlike the original programs, every malformed token is rejected: a missing leading or
// trailing separator, an empty field, a field that is not a number, a non-finite number,
// or a count different from `expected`.
inline std::vector<double> decode_rule(const std::string& option, const std::string& token,
                                       std::size_t expected)
{
	std::ostringstream where;
	where << "option --" << option << ": ";
	if (token.size() < 2 || token.front() != 'a' || token.back() != 'a') {
		throw InputError(where.str() + "a rule token must start and end with the separator "
		                 "'a', e.g. a0.02a0.05a0.3a-0.1a1.2a-0.8a; got '" + token + "'");
	}
	std::vector<double> values;
	std::size_t start = 1;
	while (start < token.size()) {
		std::size_t end = token.find('a', start);
		std::string field = token.substr(start, end - start);
		if (field.empty()) {
			throw InputError(where.str() + "empty field (two separators in a row) in '" +
			                 token + "'");
		}
		char* stop = nullptr;
		double value = std::strtod(field.c_str(), &stop);
		if (stop == field.c_str() || *stop != '\0') {
			throw InputError(where.str() + "field '" + field + "' is not a number");
		}
		if (!is_finite(value)) {
			throw InputError(where.str() + "field '" + field + "' is not a finite number");
		}
		values.push_back(value);
		start = end + 1;
	}
	if (values.size() != expected) {
		std::ostringstream msg;
		msg << where.str() << "expected " << expected << " numbers, found " << values.size();
		throw InputError(msg.str());
	}
	return values;
}

inline void require_positive(const std::string& what, double value)
{
	if (!is_finite(value) || !(value > 0.0)) {
		std::ostringstream msg;
		msg << what << " must be a positive finite number; got " << value;
		throw InputError(msg.str());
	}
}

inline void require_nonnegative(const std::string& what, double value)
{
	if (!is_finite(value) || !(value >= 0.0)) {
		std::ostringstream msg;
		msg << what << " must be a non-negative finite number; got " << value;
		throw InputError(msg.str());
	}
}

// Number of integration steps of a phase: round(duration / dt) (spec section 13, item 1).
inline auryn::AurynTime steps_of(double duration)
{
	return static_cast<auryn::AurynTime>(std::llround(duration / auryn::auryn_timestep));
}

// Run until the clock reaches `stop_step`; true when no checker aborted the run and the clock
// reached the planned step. Auryn's public run calls take a single-precision duration, so the
// phase runs in chunks of at most 10^6 steps, each requested as (k + 0.5) steps: the float
// error is far below half a step and Auryn's truncation yields exactly k steps.
inline bool run_until(auryn::AurynTime stop_step, double total_time)
{
	const auryn::AurynTime max_chunk = 1000000;
	const double start = auryn::sys->get_time();
	while (auryn::sys->get_clock() < stop_step) {
		const auryn::AurynTime chunk = std::min(stop_step - auryn::sys->get_clock(), max_chunk);
		const auryn::AurynFloat duration =
		    static_cast<auryn::AurynFloat>((chunk + 0.5) * auryn::auryn_timestep);
		if (!auryn::sys->run_chunk(duration, start, start + total_time, true)) return false;
	}
	return auryn::sys->get_clock() == stop_step;
}

// The result marker: "cynthia-1cynthia" for a completed run, "cynthia<t>cynthia" with the
// abort time otherwise (default stream formatting, no trailing newline; spec section 6).
inline void print_marker(bool completed, double stop_time)
{
	if (completed) std::cout << "cynthia-1cynthia";
	else std::cout << "cynthia" << stop_time << "cynthia";
	std::cout.flush();
}

}  // namespace fsbi

#endif  // FSBI_COMMON_H_
