@echo off
rem CloudBridge start script (Windows). See "cloudbridge help".
setlocal
set "CLOUDBRIDGE_HOME=%~dp0.."
if defined JAVA_HOME (set "JAVA=%JAVA_HOME%\bin\java.exe") else (set "JAVA=java")
set "COMMAND=%~1"
if "%COMMAND%"=="" set "COMMAND=help"
if /I "%COMMAND%"=="run" goto daemon
if /I "%COMMAND%"=="relay" goto daemon
if /I "%COMMAND%"=="up" goto daemon
"%JAVA%" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx64m -Dcloudbridge.home="%CLOUDBRIDGE_HOME%" -cp "%CLOUDBRIDGE_HOME%\lib\*" io.cloudbridge.boot.Launcher %*
exit /b %ERRORLEVEL%
:daemon
"%JAVA%" -Xms16m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError --add-opens java.base/java.lang=ALL-UNNAMED %CLOUDBRIDGE_JAVA_OPTS% -Dcloudbridge.home="%CLOUDBRIDGE_HOME%" -cp "%CLOUDBRIDGE_HOME%\lib\*" io.cloudbridge.boot.Launcher %*
exit /b %ERRORLEVEL%
