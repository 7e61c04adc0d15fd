#include "headend/collection/register_read.hpp"

#include <fmt/format.h>

#include "headend/collection/boundary_read.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/messages.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::collection {

dlt645::Frame make_register_request_1997(const dlt645::Address& address, std::uint16_t di) {
  return dlt645::make_read_request_1997(address, di);
}

bool is_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply) {
  if (!reply.control.from_meter() || reply.control.function() != dlt645::fn1997::read) return false;
  if (reply.control.abnormal()) return true;
  dlt645::Message message;
  if (!dlt645::parse_message(reply, dlt645::Edition::v1997, message).ok()) return true;  // interpret says why
  return message.di == di;
}

RegisterReadResult interpret_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply) {
  RegisterReadResult result;
  dlt645::Message message;
  const auto status = dlt645::parse_message(reply, dlt645::Edition::v1997, message);
  if (!status.ok()) {
    result.detail = fmt::format("1997 read reply for {:04X}: {}", di, status.detail);
    return result;
  }
  if (message.abnormal) {
    result.outcome = Outcome::meter_error;
    result.detail = message.error_bits ? fmt::format("ERR {:02X}: {}", *message.error_bits,
                                                     describe_err(dlt645::Edition::v1997, *message.error_bits))
                                       : std::string("abnormal reply without ERR byte");
    return result;
  }
  const auto* item = dlt645::find_data_item(dlt645::Edition::v1997, di);
  if (item == nullptr || item->field_count < 1) {
    result.detail = fmt::format("DI {:04X} is not in the 1997 catalogue", di);
    return result;
  }
  const auto number = dlt645::decode_number(item->fields[0], message.value);
  if (!number) {
    result.detail = fmt::format("DI {:04X}: value is too short or not BCD", di);
    return result;
  }
  const auto wh = dlt645::to_wh(*number);
  if (!wh) {
    result.detail = fmt::format("DI {:04X}: value not available (all FF) or not in kWh", di);
    return result;
  }
  result.outcome = Outcome::ok;
  result.wh = wh;
  return result;
}

RegisterReadResult interpret_register_reply_2007(std::uint32_t di, const dlt645::Frame& reply) {
  RegisterReadResult result;
  auto read = decode_read_reply(di, reply);
  result.outcome = read.outcome;
  result.detail = std::move(read.detail);
  if (read.outcome != Outcome::ok) return result;
  result.wh = dlt645::to_wh(read.fields.front().number);
  if (!result.wh) {
    result.outcome = Outcome::bad_reply;
    result.detail = fmt::format("DI {:08X}: value not available (all FF) or not in kWh", di);
  }
  return result;
}

namespace {

dlt645::Frame request_1997(const dlt645::Address& address, std::uint32_t di) {
  return make_register_request_1997(address, static_cast<std::uint16_t>(di));
}
bool answers_1997(std::uint32_t di, const dlt645::Frame& reply) {
  return is_register_reply_1997(static_cast<std::uint16_t>(di), reply);
}
RegisterReadResult interpret_1997(std::uint32_t di, const dlt645::Frame& reply) {
  return interpret_register_reply_1997(static_cast<std::uint16_t>(di), reply);
}

constexpr RegisterReadSpec kRegisters1997{kDi1997ForwardActiveTotal, kDi1997ReverseActiveTotal, request_1997,
                                          answers_1997, interpret_1997};
// 2007: a plain 11H read, answered by a reply carrying the DI (or an abnormal one), as clock reads.
constexpr RegisterReadSpec kRegisters2007{kDi2007ForwardActiveTotal, kDi2007ReverseActiveTotal,
                                          dlt645::make_read_request, answers_read_of, interpret_register_reply_2007};

}  // namespace

const RegisterReadSpec* register_read_spec(std::string_view protocol) {
  if (protocol == "dlt645-1997") return &kRegisters1997;
  if (protocol == "dlt645-2007") return &kRegisters2007;
  return nullptr;
}

}  // namespace ami::collection
